// ReadinessPoller on socket pairs: readiness reaches the watcher through the io_context, a
// watcher removed earlier in the same batch is not called, and output interest is reported only
// while asked for.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>

#include "reprise/net/readiness_poller.hpp"

using namespace reprise::net;
using namespace std::chrono_literals;

namespace {

struct Pair {
  int ours = -1, peer = -1;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
    ours = fds[0];
    peer = fds[1];
  }
  ~Pair() {
    if (ours >= 0) ::close(ours);
    if (peer >= 0) ::close(peer);
  }
};

struct Recorder final : ReadinessPoller::Watcher {
  int calls = 0;
  std::uint32_t events = 0;
  std::function<void()> then;
  void on_ready(std::uint32_t e) override {
    ++calls;
    events |= e;
    if (then) then();
  }
};

// Runs the io_context until `done` or a second has passed.
void run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + 1s;
  while (!done() && std::chrono::steady_clock::now() < end) io.run_one_for(10ms);
}

// An io_context, its poller and one socket pair watched by a Recorder.
struct Watched {
  boost::asio::io_context io;
  std::unique_ptr<ReadinessPoller> poller;
  Pair p;
  Recorder w;
  std::uint32_t handle = 0;
  Watched() {
    auto created = ReadinessPoller::create(io);
    REQUIRE(created);
    poller = std::move(*created);
    auto added = poller->add(p.ours, w);
    REQUIRE(added);
    handle = *added;
  }
};

}  // namespace

TEST_CASE("bytes on a watched socket reach its watcher, once per arrival", "[net][poller]") {
  Watched x;
  auto& [io, poller, p, w, handle] = x;
  io.poll();
  CHECK(w.calls == 0);  // nothing to read yet

  REQUIRE(::write(p.peer, "abc", 3) == 3);
  run_until(io, [&] { return w.calls > 0; });
  CHECK(w.calls == 1);
  CHECK((w.events & EPOLLIN) != 0);
  char buf[8];
  CHECK(::read(p.ours, buf, sizeof buf) == 3);

  // Edge-triggered: no new bytes, no new call; new bytes, a new one.
  io.poll();
  CHECK(w.calls == 1);
  REQUIRE(::write(p.peer, "d", 1) == 1);
  run_until(io, [&] { return w.calls > 1; });
  CHECK(w.calls == 2);
  CHECK(poller->wakeups() >= 2);
  poller->remove(handle);
}

TEST_CASE("a watcher removed earlier in the same batch is not called", "[net][poller]") {
  boost::asio::io_context io;
  auto poller = ReadinessPoller::create(io);
  REQUIRE(poller);
  Pair a, b;
  Recorder wa, wb;
  auto ha = (*poller)->add(a.ours, wa);
  auto hb = (*poller)->add(b.ours, wb);
  REQUIRE((ha && hb));
  // Whichever comes first removes the other, as a connection closing another would.
  wa.then = [&] { (*poller)->remove(*hb); };
  wb.then = [&] { (*poller)->remove(*ha); };
  REQUIRE(::write(a.peer, "x", 1) == 1);
  REQUIRE(::write(b.peer, "y", 1) == 1);
  run_until(io, [&] { return wa.calls + wb.calls > 0; });
  io.poll();
  CHECK(wa.calls + wb.calls == 1);

  // The freed slot is reused with a new generation: the new watcher gets its own events only.
  Pair c;
  Recorder wc;
  auto hc = (*poller)->add(c.ours, wc);
  REQUIRE(hc);
  REQUIRE(::write(c.peer, "z", 1) == 1);
  run_until(io, [&] { return wc.calls > 0; });
  CHECK(wc.calls == 1);
  CHECK(wa.calls + wb.calls == 1);
}

TEST_CASE("room to write is reported only while output interest is on", "[net][poller]") {
  Watched x;
  auto& [io, poller, p, w, handle] = x;
  // Fill the socket's buffer until a write stops short.
  char block[4096] = {};
  while (::write(p.ours, block, sizeof block) > 0) {
  }
  REQUIRE(poller->want_output(handle, true));
  io.poll();
  CHECK(w.calls == 0);  // still full
  // The peer drains it: room again, reported.
  while (::read(p.peer, block, sizeof block) > 0) {
  }
  run_until(io, [&] { return w.calls > 0; });
  CHECK((w.events & EPOLLOUT) != 0);

  // Interest off: draining again after another fill reports nothing.
  REQUIRE(poller->want_output(handle, false));
  io.poll();
  const int calls = w.calls;
  while (::write(p.ours, block, sizeof block) > 0) {
  }
  while (::read(p.peer, block, sizeof block) > 0) {
  }
  for (int i = 0; i < 5; ++i) io.run_one_for(10ms);
  CHECK(w.calls == calls);
}
