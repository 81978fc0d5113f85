// End to end: `reprise replay` (the built binary) against real servers on loopback — the
// in-process TestServer where a test needs a server that is slow, fails or resets, and nginx.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "reprise/format/reader.hpp"
#include "reprise/format/records.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/trace_file.hpp"

using namespace reprise;
using namespace reprise::test;
using namespace std::chrono_literals;
namespace fb = format::fb;

namespace {

constexpr std::int64_t kMs = 1'000'000;

// A trace of `sessions` sessions x `per_session` requests, one request every `gap_ns`, round
// robin over the sessions. Every third request is a POST with a body.
std::string make_trace(const TempDir& dir, int sessions, int per_session, std::int64_t gap_ns,
                       const std::string& name = "t.rtrace") {
  std::vector<fb::ExchangeT> xs;
  std::uint64_t id = 1;
  for (int r = 0; r < per_session; ++r) {
    for (int s = 0; s < sessions; ++s, ++id) {
      auto& x = xs.emplace_back(exchange(id, 100 + static_cast<std::uint64_t>(s),
                                         static_cast<std::int64_t>(id - 1) * gap_ns,
                                         id % 3 == 0 ? "POST" : "GET",
                                         "/s" + std::to_string(s) + "/r" + std::to_string(r)));
      x.connection_index = static_cast<std::uint32_t>(r);
      x.request->headers.push_back(field("Host", "shop.example"));
      // hop-by-hop: must not reach the target
      x.request->headers.push_back(field("Connection", "close"));
      if (x.request->method == "POST") set_body(*x.request, "body-" + std::to_string(id));
    }
  }
  return write_trace(dir.file(name), xs);
}

// One session's requests (method, target), `gap_ns` apart.
std::string session_trace(const TempDir& dir, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& requests,
                          std::int64_t gap_ns) {
  std::vector<fb::ExchangeT> xs;
  for (std::size_t i = 0; i < requests.size(); ++i)
    xs.push_back(exchange(i + 1, 1, static_cast<std::int64_t>(i) * gap_ns, requests[i].first,
                          requests[i].second));
  return write_trace(dir.file(name), xs);
}

struct RunFile {
  std::vector<fb::OutcomeT> outcomes;
  std::string end_reason;
  bool footer = false;
  std::uint64_t intervals = 0;
  std::uint64_t interval_outcomes = 0;
};

RunFile read_run(const std::string& path) {
  RunFile out;
  format::ReaderOptions options;
  options.on_interval = [&](const fb::Interval& i) {
    ++out.intervals;
    out.interval_outcomes += i.outcomes();
  };
  auto reader = format::Reader::open(path, options);
  REQUIRE(reader);
  REQUIRE((*reader)->kind() == fb::FileKind::Run);
  format::Record r;
  for (;;) {
    auto more = (*reader)->next(r);
    REQUIRE(more);
    if (!*more) break;
    fb::OutcomeT o;
    r.outcome()->UnPackTo(&o);
    out.outcomes.push_back(std::move(o));
  }
  if (const auto* f = (*reader)->footer()) {
    out.footer = true;
    out.end_reason = f->end_reason() ? f->end_reason()->str() : "";
  }
  return out;
}

ProcessResult replay(const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> argv{reprise_bin(), "replay"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, timeout);
}

}  // namespace

TEST_CASE("x1 sends every recorded request once: method, target, body", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 4, 5, 5 * kMs);
  const auto result = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun")});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto got = server.requests();
  REQUIRE(got.size() == 20);
  std::multiset<std::string> seen;
  for (const auto& r : got) {
    seen.insert(r.method + " " + r.target + " " + r.body);
    CHECK(r.header("Host") == std::optional<std::string>("shop.example"));
    CHECK_FALSE(r.header("Connection").has_value());  // hop-by-hop dropped: keep-alive pool
  }
  std::multiset<std::string> want;
  for (int id = 1; id <= 20; ++id) {
    const int s = (id - 1) % 4, r = (id - 1) / 4;
    const std::string method = id % 3 == 0 ? "POST" : "GET";
    want.insert(method + " /s" + std::to_string(s) + "/r" + std::to_string(r) + " " +
                (method == "POST" ? "body-" + std::to_string(id) : ""));
  }
  CHECK(seen == want);
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.footer);
  CHECK(run.end_reason == "completed");
  CHECK(run.outcomes.size() == 20);
  CHECK(run.interval_outcomes == 20);
  std::multiset<std::string> lines;  // format 1.2: each outcome carries its request line
  for (const auto& o : run.outcomes) {
    lines.insert(o.method + " " + o.target);
    CHECK(o.status == 200);
    CHECK(o.error == fb::ErrorKind::None);
    CHECK(o.sent_ns >= o.intended_ns);
    CHECK(o.done_ns >= o.first_byte_ns);
    CHECK(o.first_byte_ns >= o.sent_ns);
  }
  std::multiset<std::string> want_lines;
  for (const auto& w : want) want_lines.insert(w.substr(0, w.rfind(' ')));
  CHECK(lines == want_lines);
  CHECK(server.connections_accepted() < 20);  // connections were reused
}

TEST_CASE("x3 sends every request three times, x0.5 about half the sessions, whole", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 40, 3, 1 * kMs);
  auto r3 = replay({trace, "--target", server.url(""), "-o", dir.file("x3.rrun"), "--multiplier", "3",
                    "--clone-spread", "200ms"});
  INFO(r3.err);
  REQUIRE(r3.exit_code == 0);
  CHECK(server.request_count() == 360);
  for (int s = 0; s < 40; ++s) CHECK(server.request_count("/s" + std::to_string(s) + "/r1") == 3);

  TestServer half;
  auto r05 = replay({trace, "--target", half.url(""), "-o", dir.file("x05.rrun"), "--multiplier", "0.5"});
  REQUIRE(r05.exit_code == 0);
  std::map<std::string, int> per_session;
  for (const auto& r : half.requests()) ++per_session[r.target.substr(0, r.target.find("/r"))];
  for (const auto& [s, n] : per_session) CHECK(n == 3);  // whole sessions
  CHECK(per_session.size() >= 10);
  CHECK(per_session.size() <= 30);
}

TEST_CASE("speed 2 takes half the recorded time", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 2, 11, 100 * kMs);  // 2.1 s recorded
  const auto start = std::chrono::steady_clock::now();
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--speed", "2"});
  REQUIRE(r.exit_code == 0);
  const auto log = server.requests();
  REQUIRE(log.size() == 22);
  const double span = std::chrono::duration<double>(log.back().arrived - log.front().arrived).count();
  CHECK(span == Approx(1.05).margin(0.1));
  (void)start;
}

TEST_CASE("a ramp's per-second counts follow the stages", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  // 4000 single-request sessions over 8 s: 500 sessions/s at x1.
  const auto trace = make_trace(dir, 4000, 1, 2 * kMs);
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--stage", "0s:50%",
                   "--stage", "4s:50%", "--stage", "0s:150%", "--stage", "4s:150%",
                   "--clone-spread", "1ms", "--no-default-aborts"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto log = server.requests();
  const auto t0 = log.front().arrived;
  std::map<int, int> per_second;
  for (const auto& x : log)
    ++per_second[static_cast<int>(std::chrono::duration<double>(x.arrived - t0).count())];
  for (int s = 0; s < 3; ++s) CHECK(per_second[s] == Approx(250).margin(60));
  for (int s = 5; s < 7; ++s) CHECK(per_second[s] == Approx(750).margin(120));
}

TEST_CASE("max-inflight is never exceeded, and held requests keep their intended time", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  server.set_behaviour(Behaviour::ok().after(100ms));
  const auto trace = make_trace(dir, 60, 1, 1 * kMs);
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--max-inflight", "5",
                   "--no-default-aborts"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(server.request_count() == 60);
  CHECK(server.max_in_flight() <= 5);
  CHECK(server.max_in_flight() >= 4);
  const auto run = read_run(dir.file("r.rrun"));
  std::int64_t max_lateness = 0;
  for (const auto& o : run.outcomes) max_lateness = std::max(max_lateness, o.sent_ns - o.intended_ns);
  CHECK(max_lateness > 1000 * kMs);  // 60 requests, 5 at a time, 100 ms each: ~1.1 s of wait
}

TEST_CASE("rate max sends nothing before run time 0 and counts no back-off without a failure",
          "[replay][cli]") {
  // The lead before run time 0 once counted as back-off: every request found the connection
  // gate closed until 0, and the summary blamed connect failures that never happened.
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 20, 5, 1 * kMs);
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--rate", "max",
                   "--max-inflight", "8", "--no-default-aborts", "--stats-json", dir.file("s.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(server.request_count() == 100);
  std::ifstream in(dir.file("s.json"));
  const auto stats = nlohmann::json::parse(in);
  CHECK(stats["held_back"]["backoff"] == 0);
  CHECK(stats["held_back"]["inflight"] > 0);  // 100 due at once, 8 at a time
  const auto run = read_run(dir.file("r.rrun"));
  REQUIRE(run.outcomes.size() == 100);
  for (const auto& o : run.outcomes) CHECK(o.sent_ns >= 0);
}

TEST_CASE("requests held back past max-lateness are shed and counted", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  server.set_behaviour(Behaviour::ok().after(300ms));
  const auto trace = make_trace(dir, 20, 1, 1 * kMs);
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--max-inflight", "2",
                   "--max-lateness", "500ms", "--no-default-aborts", "--stats-json", dir.file("s.json")});
  REQUIRE(r.exit_code == 0);
  const auto run = read_run(dir.file("r.rrun"));
  REQUIRE(run.outcomes.size() == 20);  // every planned request has an outcome
  const auto shed = std::count_if(run.outcomes.begin(), run.outcomes.end(),
                                  [](const auto& o) { return o.error == fb::ErrorKind::Shed; });
  CHECK(shed >= 10);
  CHECK(server.request_count() == 20 - static_cast<std::size_t>(shed));
}

TEST_CASE("an error-rate abort rule fires within its window and the run file is complete", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  server.set_behaviour(Behaviour::respond(500, "boom"));
  const auto trace = make_trace(dir, 10, 100, 10 * kMs);  // 10 s recorded
  const auto start = std::chrono::steady_clock::now();
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--abort-on",
                   "errors>20%/2s"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("errors>20%/2s") != std::string::npos);
  CHECK(took < 4.0);
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.footer);
  CHECK(run.end_reason.rfind("aborted: errors>20%/2s", 0) == 0);
  CHECK(run.outcomes.size() < 1000);
  CHECK(run.outcomes.size() == server.request_count());
}

TEST_CASE("a refused target trips the connect-failure rule without a tight retry loop", "[replay][cli]") {
  TempDir dir;
  const int port = free_port();  // nothing listens there
  const auto trace = make_trace(dir, 50, 40, 5 * kMs);
  auto r = replay({trace, "--target", "http://127.0.0.1:" + std::to_string(port), "-o",
                   dir.file("r.rrun"), "--abort-on", "connect_failures>5/5s", "--stats-json",
                   dir.file("s.json")});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.footer);
  const auto connects = std::count_if(run.outcomes.begin(), run.outcomes.end(), [](const auto& o) {
    return o.error == fb::ErrorKind::Connect;
  });
  CHECK(connects >= 6);
  CHECK(connects < 40);  // back-off: not one attempt per request
}

TEST_CASE("an unresolvable target is refused before anything starts", "[replay][cli]") {
  TempDir dir;
  const auto trace = make_trace(dir, 1, 1, kMs);
  auto r = replay({trace, "--target", "http://no-such-host.invalid:80", "-o", dir.file("r.rrun")});
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("no-such-host.invalid") != std::string::npos);
  auto bad = replay({trace, "--target", "ftp://x", "-o", dir.file("r.rrun")});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--target") != std::string::npos);
  auto rule = replay({trace, "--target", "http://127.0.0.1:1", "-o", dir.file("r.rrun"), "--abort-on", "errors>lots"});
  CHECK(rule.exit_code == 2);
}

TEST_CASE("a dry run checks every flag the run would, and refuses contradicting plans with exit 2",
          "[replay][cli]") {
  TempDir dir;
  const auto trace = make_trace(dir, 2, 2, kMs);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--abort-on", "garbage"}, "--abort-on"},
      {{"--drain-timeout", "-1s"}, "--drain-timeout"},
      {{"--keep-bodies", "xyz"}, "--keep-bodies"},
      {{"--start-at", "garbage"}, "--start-at"},
      {{"--start-at", "inf"}, "--start-at"},
      {{"--start-at", "1e30"}, "--start-at"},
      {{"--metrics-listen", "garbage"}, "--metrics-listen"},
      {{"--metrics-listen", "127.0.0.1:99999"}, "--metrics-listen"},
      {{"--rate", "10/s", "--speed", "1000"}, "--speed"},
      {{"--rate", "max", "--max-lateness", "1s"}, "--max-lateness"},
      {{"--correlation-timeout", "10s"}, "--correlation-timeout"},
      {{"--max-lateness", "1s", "--correlation-timeout", "1s"}, "--correlation-timeout"},
  };
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> args = {trace, "--dry-run"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto r = replay(args);
    INFO(flags.front() << " " << flags.back() << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(named) != std::string::npos);
  }
  // A short --max-lateness alone is fine: the correlation timeout's default adapts to it.
  CHECK(replay({trace, "--dry-run", "--max-lateness", "1s"}).exit_code == 0);
  // --rate max --loop has no schedule in time: one pass is shown, and the dry run ends.
  const auto max = replay({trace, "--dry-run", "--rate", "max", "--loop", "--duration", "2s"});
  CHECK(max.exit_code == 0);
  CHECK(max.out.find("--loop repeats it until --duration") != std::string::npos);
  // A plan over --max-rate says that requests will be shed.
  const auto capped = replay({trace, "--dry-run", "--rate", "1000/s", "--max-rate", "10/s", "--loop", "--duration", "3s"});
  CHECK(capped.exit_code == 0);
  CHECK(capped.out.find("over --max-rate 10/s") != std::string::npos);
}

TEST_CASE("a --stats-json that cannot be written makes a completed run exit 4, and the run file is whole",
          "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 2, 2, kMs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--stats-json",
                         dir.file("no/such/dir/s.json")});
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("s.json") != std::string::npos);
  CHECK(read_run(dir.file("r.rrun")).outcomes.size() == 4);
}

TEST_CASE("a replay the filters leave nothing to send says so, with a duration of at least 0",
          "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 2, 2, kMs);  // GETs
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--method", "DELETE"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("nothing was replayed: the filters left none") != std::string::npos);
  CHECK(r.err.find("after -") == std::string::npos);
  CHECK(r.err.find("trace on standard input") == std::string::npos);
  CHECK(server.request_count() == 0);
}

TEST_CASE("N shards together replay exactly what one process does", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 30, 2, 1 * kMs);
  auto one = replay({trace, "--target", server.url(""), "-o", dir.file("all.rrun"), "--multiplier", "2.5",
                     "--clone-spread", "100ms"});
  REQUIRE(one.exit_code == 0);
  std::multiset<std::pair<std::uint64_t, std::uint32_t>> whole, joined;
  for (const auto& o : read_run(dir.file("all.rrun")).outcomes) whole.insert({o.exchange_id, o.clone});
  for (int i = 0; i < 3; ++i) {
    const auto out = dir.file("s" + std::to_string(i) + ".rrun");
    auto part = replay({trace, "--target", server.url(""), "-o", out, "--multiplier", "2.5",
                        "--clone-spread", "100ms", "--shard", std::to_string(i) + "/3"});
    REQUIRE(part.exit_code == 0);
    for (const auto& o : read_run(out).outcomes) joined.insert({o.exchange_id, o.clone});
  }
  CHECK(whole.size() > 120);
  CHECK(joined == whole);
}

TEST_CASE("Ctrl-C drains, writes a valid run file and exits 130", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 5, 200, 10 * kMs);  // 10 s
  Background proc({reprise_bin(), "replay", trace, "--target", server.url(""), "-o", dir.file("r.rrun")});
  REQUIRE(server.wait_for_requests(20, 10s));
  const int status = proc.stop(SIGINT);
  CHECK(status == 130);
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.footer);
  CHECK(run.end_reason == "interrupted");
  CHECK(run.outcomes.size() >= 20);
  CHECK(run.outcomes.size() < 1000);
  CHECK(run.outcomes.size() == server.request_count());
}

TEST_CASE("after Ctrl-C every planned request is either in the run file or counted as not sent",
          "[replay][cli]") {
  // More requests than the engine queues: the reader is waiting to hand one over when the stop
  // comes, and that one is dropped too.
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 4, 5000, 1 * kMs);  // 20 s; the engine queues 2 x 8192
  Background proc({reprise_bin(), "replay", trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                   "--stats-json", dir.file("s.json")});
  REQUIRE(server.wait_for_requests(20, 10s));
  CHECK(proc.stop(SIGINT) == 130);
  std::ifstream in(dir.file("s.json"));
  const auto j = nlohmann::json::parse(in);
  CHECK(j.at("schedule").at("planned").get<std::uint64_t>() ==
        j.at("outcomes").get<std::uint64_t>() + j.at("dropped_at_stop").get<std::uint64_t>());
  CHECK(j.at("outcomes").get<std::uint64_t>() == read_run(dir.file("r.rrun")).outcomes.size());
}

TEST_CASE("a second Ctrl-C cuts in-flight requests at once, still writing the run file", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  server.set_behaviour(Behaviour::ok().after(20s));
  const auto trace = make_trace(dir, 5, 1, 1 * kMs);
  Background proc({reprise_bin(), "replay", trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                   "--drain-timeout", "60s"});
  REQUIRE(server.wait_for_requests(5, 10s));
  kill(proc.pid(), SIGINT);
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  const int status = proc.stop(SIGINT);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(status == 130);
  const auto run = read_run(dir.file("r.rrun"));
  REQUIRE(run.outcomes.size() == 5);
  for (const auto& o : run.outcomes) CHECK(o.error == fb::ErrorKind::Aborted);
}

TEST_CASE("resets, garbage and timeouts are classified per request", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  server.on("/s0/r0", Behaviour::reset_connection());
  server.on("/s1/r0", Behaviour::garbage());
  server.on("/s2/r0", Behaviour::ok().after(3s));
  const auto trace = make_trace(dir, 4, 1, 1 * kMs);
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--request-timeout",
                   "500ms", "--no-default-aborts"});
  REQUIRE(r.exit_code == 0);
  std::map<std::uint64_t, fb::ErrorKind> by_exchange;
  for (const auto& o : read_run(dir.file("r.rrun")).outcomes) by_exchange[o.exchange_id] = o.error;
  CHECK(by_exchange[1] == fb::ErrorKind::Reset);
  CHECK(by_exchange[2] == fb::ErrorKind::Protocol);
  CHECK(by_exchange[3] == fb::ErrorKind::Timeout);
  CHECK(by_exchange[4] == fb::ErrorKind::None);
}

TEST_CASE("strict session order waits for each answer, per-recorded connections are kept", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  server.set_behaviour(Behaviour::ok().after(50ms));
  const auto trace = make_trace(dir, 3, 4, 1 * kMs);  // 12 requests within 12 ms
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--session-order",
                   "strict", "--connections", "per-recorded", "--no-default-aborts"});
  REQUIRE(r.exit_code == 0);
  const auto log = server.requests();
  REQUIRE(log.size() == 12);
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> per_session;
  std::map<std::string, std::set<std::uint64_t>> connections;
  for (const auto& x : log) {
    const auto s = x.target.substr(0, x.target.find("/r"));
    per_session[s].push_back(x.arrived);
    connections[s].insert(x.connection);
  }
  for (const auto& [s, times] : per_session) {
    for (std::size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= 45ms);
    CHECK(connections[s].size() == 1);
  }
  CHECK(server.connections_accepted() == 3);
}

TEST_CASE("a session shed whole while the reader waits for room still ends the run", "[replay][cli]") {
  // One session of more requests than the reader may hand over (8192 queued on each side):
  // strict order parks them behind the first, which times out; by then all the others are past
  // --max-lateness and are shed in a chain, emptying what the network thread held while the
  // reader still waited for room. The run must go on to the end, not wait forever.
  TempDir dir;
  TestServer server;
  server.set_behaviour(Behaviour::ok().after(5s));
  const auto trace = make_trace(dir, 1, 20000, 10'000);  // 20,000 requests within 0.2 s
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--session-order",
                   "strict", "--request-timeout", "1s", "--max-lateness", "100ms",
                   "--no-default-aborts"},
                  30s);
  REQUIRE(r.exit_code == 0);
  const auto run = read_run(dir.file("r.rrun"));
  REQUIRE(run.outcomes.size() == 20000);
  const auto count = [&](fb::ErrorKind e) {
    return std::count_if(run.outcomes.begin(), run.outcomes.end(),
                         [&](const auto& o) { return o.error == e; });
  };
  CHECK(count(fb::ErrorKind::Timeout) == 1);
  CHECK(count(fb::ErrorKind::Shed) == 19999);
}

TEST_CASE("dry run prints the plan and sends nothing", "[replay][cli]") {
  TempDir dir;
  const auto trace = make_trace(dir, 10, 10, 10 * kMs);
  auto r = replay({trace, "--dry-run", "--multiplier", "2", "--stage", "1s:100%"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("nothing sent") != std::string::npos);
  CHECK(r.out.find("peak rate") != std::string::npos);
  CHECK(r.out.find("rate per second") != std::string::npos);
  CHECK(r.out.find("session clones") != std::string::npos);
}

TEST_CASE("x1 against nginx: nginx logs exactly the recorded requests", "[replay][cli][nginx]") {
  if (!Nginx::available()) {
    WARN("nginx is not installed: skipped");
    return;
  }
  TempDir dir;
  Nginx nginx;
  std::vector<fb::ExchangeT> xs;
  const char* targets[] = {"/static/100", "/echo", "/status/404", "/static/10000"};
  for (std::uint64_t i = 0; i < 40; ++i) {
    auto& x = xs.emplace_back(exchange(i + 1, i % 4, static_cast<std::int64_t>(i) * 2 * kMs,
                                       i % 4 == 1 ? "POST" : "GET", targets[i % 4]));
    if (i % 4 == 1) set_body(*x.request, "hi");
  }
  const auto path = write_trace(dir.file("n.rtrace"), xs);
  auto r = replay({path, "--target", "http://127.0.0.1:" + std::to_string(nginx.port()), "-o",
                   dir.file("r.rrun")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::this_thread::sleep_for(200ms);
  const auto log = nginx.access_log();
  REQUIRE(log.size() == 40);
  std::map<std::string, int> per_uri;
  for (const auto& e : log) ++per_uri[e.method + " " + e.uri];
  CHECK(per_uri["GET /static/100"] == 10);
  CHECK(per_uri["POST /echo"] == 10);
  CHECK(per_uri["GET /status/404"] == 10);
  CHECK(per_uri["GET /static/10000"] == 10);
  const auto run = read_run(dir.file("r.rrun"));
  std::map<int, int> statuses;
  for (const auto& o : run.outcomes) ++statuses[o.status];
  CHECK(statuses[200] == 30);
  CHECK(statuses[404] == 10);
}

TEST_CASE("the metrics endpoint serves OpenMetrics during the run", "[replay][cli][metrics]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 5, 60, 10 * kMs);  // 3 s
  const int port = free_port();
  Background proc({reprise_bin(), "replay", trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                   "--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(server.wait_for_requests(100, 10s));
  std::this_thread::sleep_for(1200ms);
  const auto scrape = run({"curl", "-sS", "-i", "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
  CHECK(scrape.out.find("application/openmetrics-text") != std::string::npos);
  CHECK(scrape.out.find("reprise_requests_sent_total ") != std::string::npos);
  CHECK(scrape.out.find("reprise_responses_total{class=\"2xx\"} ") != std::string::npos);
  CHECK(scrape.out.find("# EOF") != std::string::npos);
  CHECK(proc.stop(SIGINT) == 130);

  // A port that is taken is refused before anything is sent.
  TestServer busy;
  auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r2.rrun"), "--metrics-listen",
                   "127.0.0.1:" + std::to_string(busy.port())});
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("--metrics-listen") != std::string::npos);
}

TEST_CASE("a trace can come from standard input", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 3, 3, 1 * kMs);
  const auto r = run_shell("cat '" + trace + "' | '" + reprise_bin() + "' replay - --target " +
                           server.url("") + " -o '" + dir.file("r.rrun") + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(server.request_count() == 9);
  const auto loop = run_shell("cat '" + trace + "' | '" + reprise_bin() + "' replay - --target " +
                              server.url("") + " -o '" + dir.file("l.rrun") + "' --loop --duration 1s");
  CHECK(loop.exit_code == 2);
  CHECK(loop.err.find("--loop") != std::string::npos);
}

TEST_CASE("Ctrl-C stops a run whose trace pipe is open but quiet", "[replay][cli]") {
  // The writer of the pipe keeps it open and sends nothing more, as a live capture between
  // requests does; the interrupt must not wait for the next byte (timeout's -k kills a hang).
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 3, 3, 1 * kMs);
  const auto r = run_shell("{ cat '" + trace + "'; sleep 4; } | timeout --preserve-status -s INT -k 2 1 '" +
                           reprise_bin() + "' replay - --target " + server.url("") + " -o '" +
                           dir.file("r.rrun") + "'");
  INFO(r.err);
  CHECK(r.exit_code == 130);
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.end_reason == "interrupted");
  CHECK(run.outcomes.size() == 9);
}

TEST_CASE("flag values that are not UTF-8 do not break the run file or the stats JSON",
          "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 1, 2, 1 * kMs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--set-header",
                         "X-Name: caf\xE9", "--stats-json", dir.file("s.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(dir.file("s.json"));
  CHECK_FALSE(nlohmann::json::parse(in, nullptr, false).is_discarded());
  CHECK(read_run(dir.file("r.rrun")).outcomes.size() == 2);
  REQUIRE(server.requests().size() == 2);
  CHECK(server.requests()[0].header("X-Name") == std::optional<std::string>("caf\xE9"));
}

TEST_CASE("start-at waits for the agreed instant", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 1, 1, 1 * kMs);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const double at = std::chrono::duration<double>(now).count() + 1.5;
  const auto start = std::chrono::steady_clock::now();
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--start-at",
                         std::to_string(at)});
  REQUIRE(r.exit_code == 0);
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].arrived - start >= 1400ms);
}

TEST_CASE("filters and rewrites change what is sent, and the dry run lists them", "[replay][cli]") {
  TempDir dir;
  TestServer server;
  const auto trace = make_trace(dir, 4, 5, 1 * kMs);  // ids 1..20, /s{0..3}/r{0..4}, every third a POST
  const std::vector<std::string> rules{"--skip-unsafe", "--exclude-path", "/r4$", "--rewrite-path",
                                       "^/s([0-9])=>/session$1", "--set-header", "X-Replay: 1",
                                       "--host-header", "target"};
  std::vector<std::string> dry{trace, "--dry-run"};
  dry.insert(dry.end(), rules.begin(), rules.end());
  auto plan = replay(dry);
  INFO(plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find("requests           11 ") != std::string::npos);
  CHECK(plan.out.find("filtered out       9 (--method 0, --skip-unsafe 6, path filters 3)") != std::string::npos);
  CHECK(plan.out.find("rules              --skip-unsafe") != std::string::npos);
  CHECK(plan.out.find("--set-header 'X-Replay: 1'") != std::string::npos);

  std::vector<std::string> args{trace, "--target", server.url(""), "-o", dir.file("r.rrun")};
  args.insert(args.end(), rules.begin(), rules.end());
  const auto result = replay(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find("filtered out") != std::string::npos);
  const auto got = server.requests();
  REQUIRE(got.size() == 11);
  for (const auto& r : got) {
    INFO(r.method << " " << r.target);
    CHECK(r.method == "GET");
    CHECK(r.target.rfind("/session", 0) == 0);
    CHECK(r.target.find("/r4") == std::string::npos);
    CHECK(r.header("X-Replay") == std::optional<std::string>("1"));
    CHECK(r.header("Host") == std::optional<std::string>("127.0.0.1:" + std::to_string(server.port())));
  }
  // The run file records the request line as sent.
  for (const auto& o : read_run(dir.file("r.rrun")).outcomes) CHECK(o.target.rfind("/session", 0) == 0);
}

TEST_CASE("a request answered before its body is all sent does not lend its connection to the next",
          "[replay][cli]") {
  // The server answers the upload 401 as soon as its head is in and reads nothing more on that
  // connection (an auth check in front of an upload); the GET after it must go on a connection
  // of its own. Reused, the GET waited behind the unsent body and timed out.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const int port = acceptor.local_endpoint().port();
  std::atomic<int> accepted{0}, gets{0};
  std::vector<std::thread> connections;  // one thread each: the upload's holds its connection
  auto serve = [&](asio::ip::tcp::socket s) {
    std::string in;
    boost::system::error_code ec;
    while (!ec && in.find("\r\n\r\n") == std::string::npos) {
      char buf[4096];
      in.append(buf, s.read_some(asio::buffer(buf), ec));
    }
    if (in.rfind("POST", 0) == 0) {
      asio::write(s, asio::buffer(std::string("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")), ec);
      std::this_thread::sleep_for(2500ms);
    } else if (in.rfind("GET /next", 0) == 0) {
      ++gets;
      asio::write(s, asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), ec);
      std::this_thread::sleep_for(500ms);
    }
  };
  std::thread server([&] {
    for (int i = 0; i < 2; ++i) {
      asio::ip::tcp::socket s(io);
      acceptor.accept(s);
      ++accepted;
      connections.emplace_back(serve, std::move(s));
    }
  });
  TempDir dir;
  std::vector<fb::ExchangeT> xs;
  set_body(*xs.emplace_back(exchange(1, 1, 0, "POST", "/upload")).request, std::string(16 << 20, 'u'));
  xs.push_back(exchange(2, 1, 10 * kMs, "GET", "/next"));
  const auto trace = write_trace(dir.file("upload.rtrace"), xs);
  const auto r = replay({trace, "--target", "http://127.0.0.1:" + std::to_string(port), "-o",
                         dir.file("r.rrun"), "--max-connections", "1", "--request-timeout", "2s",
                         "--no-default-aborts"});
  if (accepted < 2) asio::ip::tcp::socket(io).connect(acceptor.local_endpoint());  // frees accept()
  server.join();
  for (auto& t : connections) t.join();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(gets == 1);
  const auto run = read_run(dir.file("r.rrun"));
  REQUIRE(run.outcomes.size() == 2);
  for (const auto& o : run.outcomes) CHECK(o.status == (o.exchange_id == 1 ? 401 : 200));
}

TEST_CASE("per-recorded connections: a shed request lets the next one on its connection go",
          "[replay][cli]") {
  // /slow holds the recorded connection past --max-lateness; /a, waiting for it, is shed, and
  // /b, waiting behind /a, must then go (or be shed) too, so the run ends on its own.
  TestServer server;
  server.on("/slow", Behaviour::ok().after(1500ms));
  TempDir dir;
  const auto trace = session_trace(dir, "slow.rtrace", {{"GET", "/slow"}, {"GET", "/a"}, {"GET", "/b"}}, 10 * kMs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"), "--connections",
                         "per-recorded", "--max-lateness", "500ms", "--no-default-aborts"},
                        20s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.end_reason.find("completed") != std::string::npos);
  CHECK(run.outcomes.size() == 3);
}

TEST_CASE("a GET that meets a closed kept-alive connection goes again on a fresh one, a POST does not",
          "[replay][cli]") {
  // Every request after the first on a connection is reset unanswered, as a server's keep-alive
  // timeout does to a request written just as it closes.
  TestServer server;
  server.set_handler([](const ReceivedRequest& r) {
    return r.sequence > 1 ? Behaviour::reset_connection() : Behaviour::ok();
  });
  TempDir dir;
  const auto trace = session_trace(dir, "stale.rtrace", {{"GET", "/a"}, {"GET", "/b"}, {"POST", "/c"}}, 10 * kMs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                         "--max-connections", "1", "--no-default-aborts"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("requests re-sent") != std::string::npos);
  CHECK(server.request_count("/b") == 2);  // reset, then answered on a fresh connection
  CHECK(server.request_count("/c") == 1);  // not idempotent: sent once, its reset reported
  std::map<std::uint64_t, fb::ErrorKind> error_of;
  for (const auto& o : read_run(dir.file("r.rrun")).outcomes) error_of[o.exchange_id] = o.error;
  CHECK(error_of[1] == fb::ErrorKind::None);
  CHECK(error_of[2] == fb::ErrorKind::None);
  CHECK(error_of[3] == fb::ErrorKind::Reset);
}

TEST_CASE("an answer whose body ends at the close that comes with it is complete at once",
          "[replay][cli]") {
  // No Content-Length: the close ends the body, and here it rides on the answer's own segment
  // (TCP_CORK, then shutdown). One wake-up reports the bytes and the close together; a client
  // that stopped reading at the short read would wait for an edge that never comes, until the
  // request timeout.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const int port = acceptor.local_endpoint().port();
  constexpr int kRequests = 5;
  std::atomic<int> served{0};
  std::thread server([&] {
    for (int i = 0; i < kRequests; ++i) {
      asio::ip::tcp::socket s(io);
      boost::system::error_code ec;
      acceptor.accept(s, ec);
      std::string in;
      char buf[4096];
      while (!ec && in.find("\r\n\r\n") == std::string::npos)
        in.append(buf, s.read_some(asio::buffer(buf), ec));
      const int on = 1;
      ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
      asio::write(s, asio::buffer(std::string("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe body ends here")), ec);
      s.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      while (!ec) s.read_some(asio::buffer(buf), ec);  // until the client closes
      ++served;
    }
  });
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> gets;
  for (int i = 0; i < kRequests; ++i) gets.emplace_back("GET", "/r" + std::to_string(i));
  const auto trace = session_trace(dir, "close.rtrace", gets, 10 * kMs);
  const auto r = replay({trace, "--target", "http://127.0.0.1:" + std::to_string(port), "-o",
                         dir.file("r.rrun"), "--max-connections", "1", "--request-timeout", "2s",
                         "--no-default-aborts"});
  // A request that timed out or was shed never connected: empty connections free accept().
  while (served < kRequests) {
    boost::system::error_code ignored;
    asio::ip::tcp::socket(io).connect(acceptor.local_endpoint(), ignored);
  }
  server.join();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const auto run = read_run(dir.file("r.rrun"));
  REQUIRE(run.outcomes.size() == kRequests);
  for (const auto& o : run.outcomes) {
    CHECK(o.error == fb::ErrorKind::None);
    CHECK(o.status == 200);
  }
}

TEST_CASE("an answer that arrives in parts, with a pause between them, is read whole", "[replay][cli]") {
  // Each answer comes in two writes 30 ms apart: the client must read on after the first part,
  // not take it for the whole, and keep the connection. 40,000 bytes also fill the read buffer
  // more than once.
  const std::string body(40'000, 'x');
  TestServer server;
  server.set_handler([&](const ReceivedRequest&) {
    Behaviour b = Behaviour::respond(200, body);
    b.pause_mid_answer = 30ms;
    return b;
  });
  TempDir dir;
  const auto trace = session_trace(dir, "parts.rtrace", {{"GET", "/a"}, {"GET", "/b"}, {"GET", "/c"}}, 10 * kMs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                         "--max-connections", "1", "--no-default-aborts"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(server.connections_accepted() == 1);
  const auto digest = format::body_digest(std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  const auto run = read_run(dir.file("r.rrun"));
  CHECK(run.outcomes.size() == 3);
  for (const auto& o : run.outcomes) {
    CHECK(o.error == fb::ErrorKind::None);
    CHECK(o.status == 200);
    CHECK(o.response_digest == digest);
    CHECK(o.done_ns - o.first_byte_ns >= 25 * kMs);  // the pause lies between first and last byte
  }
}

TEST_CASE("a GET on a kept-alive connection the server closed (FIN) goes again on a fresh one",
          "[replay][cli]") {
  // The server answers, allows another request, and closes: the next request meets the end of
  // the stream before any answer byte.
  TestServer server;
  server.set_handler([](const ReceivedRequest&) {
    Behaviour b = Behaviour::ok();
    b.close_after = true;
    return b;
  });
  TempDir dir;
  const auto trace = session_trace(dir, "fin.rtrace", {{"GET", "/a"}, {"GET", "/b"}}, 10 * kMs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                         "--max-connections", "1", "--no-default-aborts"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(server.request_count("/b") == 1);
  for (const auto& o : read_run(dir.file("r.rrun")).outcomes) {
    CHECK(o.error == fb::ErrorKind::None);
    CHECK(o.status == 200);
  }
}

TEST_CASE("an idle connection the server has closed is not reused", "[replay][cli]") {
  // The server closes connections idle for 30 ms; the POST 300 ms later must not be written to
  // the closed one (it may not be re-sent, so it would end as a reset).
  TestServerOptions options;
  options.keep_alive_timeout = 30ms;
  TestServer server(options);
  TempDir dir;
  std::vector<fb::ExchangeT> xs;
  set_body(*xs.emplace_back(exchange(1, 1, 0, "POST", "/a")).request, "one");
  set_body(*xs.emplace_back(exchange(2, 1, 300 * kMs, "POST", "/b")).request, "two");
  const auto trace = write_trace(dir.file("idle.rtrace"), xs);
  const auto r = replay({trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                         "--max-connections", "1", "--no-default-aborts"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("stale connections      1 closed by the server") != std::string::npos);
  CHECK(server.connections_accepted() == 2);
  for (const auto& o : read_run(dir.file("r.rrun")).outcomes) CHECK(o.error == fb::ErrorKind::None);
}
