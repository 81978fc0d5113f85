// MessageRelay, sans-I/O: every message is fed at every split point (and byte by byte) and must
// forward and record the same thing however the bytes arrive.

#include <catch2/catch.hpp>

#include <string>

#include "reprise/capture/message_relay.hpp"

using reprise::capture::MessageRelay;

namespace {

struct Result {
  std::string forwarded;
  MessageRelay::State state;
  std::size_t consumed = 0;
};

// Feeds `wire` in two parts split at `at`, keeping unconsumed bytes as a real reader would.
Result feed_split(MessageRelay& r, const std::string& wire, std::size_t at) {
  Result out;
  std::string pending;
  for (const std::string& part : {wire.substr(0, at), wire.substr(at)}) {
    pending += part;
    const auto* p = reinterpret_cast<const std::uint8_t*>(pending.data());
    const std::size_t used = r.feed({p, pending.size()}, out.forwarded);
    out.consumed += used;
    pending.erase(0, used);
  }
  out.state = r.state();
  return out;
}

}  // namespace

TEST_CASE("message relay: a chunked request forwards the same bytes at every split point",
          "[capture][proxy][relay]") {
  const std::string head_in =
      "POST /upload HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
      "TE: trailers\r\nTransfer-Encoding: chunked\r\nX-Keep: yes\r\n\r\n";
  const std::string body = "4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
  const std::string wire = head_in + body;
  const std::string head_out =
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Keep: yes\r\nX-Extra: 1\r\n\r\n";
  for (std::size_t at = 0; at <= wire.size(); ++at) {
    INFO("split at " << at);
    MessageRelay r(true, 4096, 1 << 20);
    r.extra.push_back("X-Extra: 1");
    const auto got = feed_split(r, wire, at);
    REQUIRE(got.state == MessageRelay::State::Done);
    CHECK(got.consumed == wire.size());
    CHECK(got.forwarded == head_out + body);
    CHECK(std::string(r.request().body.begin(), r.request().body.end()) == "Wikipedia");
    CHECK(r.request().headers.size() == 6);  // recorded as received, hop-by-hop included
    CHECK(r.keep_alive());
  }
}

TEST_CASE("message relay: a response delimited by the close completes at eof, cut at max_body",
          "[capture][proxy][relay]") {
  MessageRelay r(false, 4096, 4);
  std::string out;
  const std::string wire = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world";
  const auto* p = reinterpret_cast<const std::uint8_t*>(wire.data());
  CHECK(r.feed({p, wire.size()}, out) == wire.size());
  CHECK(r.state() == MessageRelay::State::Body);
  r.eof();
  CHECK(r.state() == MessageRelay::State::Done);
  CHECK(out.substr(out.size() - 11) == "hello world");
  CHECK(r.response().body.size() == 4);
  CHECK(r.response().body_size == 11);
  CHECK(r.body_truncated());
  CHECK(!r.keep_alive());
}

TEST_CASE("message relay: a head over the limit, bytes that are not HTTP, and a close mid-head are errors",
          "[capture][proxy][relay]") {
  auto state_of = [](const std::string& wire, std::size_t limit, bool close) {
    MessageRelay r(true, limit, 1024);
    std::string out;
    const auto* p = reinterpret_cast<const std::uint8_t*>(wire.data());
    r.feed({p, wire.size()}, out);
    if (close) r.eof();
    return std::make_pair(r.state(), r.too_large());
  };
  CHECK(state_of("GET / HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", 1024, false) ==
        std::make_pair(MessageRelay::State::Error, true));
  CHECK(state_of("\x16\x03\x01 not http\r\n\r\n", 1024, false).first == MessageRelay::State::Error);
  CHECK(state_of("GET / HTTP/1.1\r\nHost:", 1024, true).first == MessageRelay::State::Error);
  CHECK(state_of("GET / HTTP/1.1\r\nHost: a\r\n", 1024, false).first == MessageRelay::State::Head);
}

TEST_CASE("message relay: upgrade, CONNECT and Expect are reported; a HEAD answer has no body",
          "[capture][proxy][relay]") {
  auto request = [](const std::string& wire) {
    auto r = std::make_unique<MessageRelay>(true, 4096, 1024);
    std::string out;
    r->feed({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()}, out);
    return r;
  };
  CHECK(request("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")->upgrade());
  CHECK(request("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")->upgrade());
  CHECK(request("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")->expects_continue());

  MessageRelay answer(false, 4096, 1024);
  answer.reset(true);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  std::string out;
  answer.feed({reinterpret_cast<const std::uint8_t*>(head.data()), head.size()}, out);
  CHECK(answer.state() == MessageRelay::State::Done);
}
