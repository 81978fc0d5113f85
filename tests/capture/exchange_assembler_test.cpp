// ExchangeAssembler driven directly with stream events, no packets. Scripts are also replayed with
// every data event cut at every point and byte by byte ("parsegrind"); each on_data gets its own
// exactly sized heap buffer so AddressSanitizer catches a read past the end.

#include "reprise/capture/exchange_assembler.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "split_feed.hpp"
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace reprise::capture {
namespace {

constexpr Direction C = Direction::ClientToServer;
constexpr Direction S = Direction::ServerToClient;

struct Step {
  enum class Type { Data, Gap, HalfClose, Close } type = Type::Data;
  Direction dir = C;
  std::string bytes;
  std::uint64_t missing = 0;
  CloseReason reason = CloseReason::Fin;
  std::int64_t ts = 0;
  GapCause cause = GapCause::Lost;
};

Step data(Direction dir, std::string bytes, std::int64_t ts) {
  return {Step::Type::Data, dir, std::move(bytes), 0, CloseReason::Fin, ts};
}
Step gap(Direction dir, std::uint64_t missing, std::int64_t ts) {
  return {Step::Type::Gap, dir, {}, missing, CloseReason::Fin, ts};
}
Step snaplen_gap(Direction dir, std::uint64_t missing, std::int64_t ts) {
  return {Step::Type::Gap, dir, {}, missing, CloseReason::Fin, ts, GapCause::Snaplen};
}
Step half_close(Direction dir, std::int64_t ts) {
  return {Step::Type::HalfClose, dir, {}, 0, CloseReason::Fin, ts};
}
Step close(CloseReason reason, std::int64_t ts) {
  return {Step::Type::Close, C, {}, 0, reason, ts};
}

std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

std::string headers(const HttpHeaders& h) {
  std::string out;
  for (const auto& [n, v] : h) out += n + ": " + v + "|";
  return out;
}

std::string describe(const HttpExchange& x) {
  std::ostringstream o;
  o << "#" << x.connection_index << " flags=" << static_cast<std::uint32_t>(x.flags)
    << " ns=" << x.request_first_ns << "," << x.request_last_ns << "," << x.response_first_ns << ","
    << x.response_last_ns << " | ";
  if (x.has_request) {
    o << x.request.method << " " << x.request.target << " v" << int{x.request.version} << " ["
      << headers(x.request.headers) << "][" << headers(x.request.trailers)
      << "] body=" << text(x.request.body) << "/" << x.request.body_size;
  } else {
    o << "(no request)";
  }
  o << " | ";
  if (x.has_response()) {
    o << x.response.status << " " << x.response.reason << " v" << int{x.response.version} << " ["
      << headers(x.response.headers) << "][" << headers(x.response.trailers)
      << "] body=" << text(x.response.body) << "/" << x.response.body_size;
  } else {
    o << "(no response)";
  }
  return o.str();
}

struct Run {
  std::vector<HttpExchange> out;
  std::vector<std::string> described;
  HttpStats stats;
};

using Cuts = std::function<std::vector<std::size_t>(std::size_t step, std::size_t size)>;

Run run(const std::vector<Step>& steps, const ExchangeAssembler::Options& options = {},
        bool syn_seen = true, const Cuts& cuts = {}) {
  Run r;
  ExchangeAssembler assembler(options, [&r](HttpExchange&& x) {
    r.described.push_back(describe(x));
    r.out.push_back(std::move(x));
  });
  ConnectionInfo info;
  info.connection_id = 42;
  info.client.port = 50000;
  info.client.family = 4;
  info.server.port = 80;
  info.server.family = 4;
  info.syn_seen = syn_seen;
  StreamSink* sink = assembler.open(info);
  bool closed = false;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const Step& st = steps[k];
    switch (st.type) {
      case Step::Type::Data: {
        test::split_feed(st.bytes, cuts ? cuts(k, st.bytes.size()) : std::vector<std::size_t>{},
                         [&](std::span<const std::uint8_t> piece) { sink->on_data(st.dir, piece, st.ts); });
        break;
      }
      case Step::Type::Gap:
        sink->on_gap(st.dir, st.missing, st.ts, st.cause);
        break;
      case Step::Type::HalfClose:
        sink->on_half_close(st.dir, st.ts);
        break;
      case Step::Type::Close:
        sink->on_close(st.reason, st.ts);
        closed = true;
        break;
    }
  }
  if (!closed) sink->on_close(CloseReason::EndOfInput, 1'000'000);
  assembler.release(sink);
  r.stats = assembler.stats();
  // Nothing is dropped: every request counted and every orphan response is in the output.
  std::uint64_t with_request = 0;
  for (const auto& x : r.out) with_request += x.has_request ? 1 : 0;
  REQUIRE(r.stats.exchanges == r.out.size());
  REQUIRE(r.stats.requests == with_request);
  REQUIRE(r.stats.orphan_responses == r.out.size() - with_request);
  return r;
}

// The script whole, then each data step cut at every point, then all of them byte by byte.
Run grind(const std::vector<Step>& steps, const ExchangeAssembler::Options& options = {},
          bool syn_seen = true) {
  Run whole = run(steps, options, syn_seen);
  for (std::size_t k = 0; k < steps.size(); ++k) {
    if (steps[k].type != Step::Type::Data) continue;
    for (std::size_t i = 1; i < steps[k].bytes.size(); ++i) {
      const Run split = run(steps, options, syn_seen, [&](std::size_t step, std::size_t) {
        return step == k ? std::vector<std::size_t>{i} : std::vector<std::size_t>{};
      });
      INFO("step " << k << " split at " << i);
      REQUIRE(split.described == whole.described);
    }
  }
  const Run bytewise = run(steps, options, syn_seen, [](std::size_t, std::size_t size) {
    std::vector<std::size_t> at;
    for (std::size_t i = 1; i < size; ++i) at.push_back(i);
    return at;
  });
  INFO("byte by byte");
  REQUIRE(bytewise.described == whole.described);
  return whole;
}

bool flagged(const HttpExchange& x, ExchangeFlags f) { return has(x.flags, f); }

const std::string kGet1 = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
const std::string kGet2 = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
const std::string kGet3 = "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
std::string ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("assembler: keep-alive exchanges in order", "[http][assembler]") {
  const Run r = grind({data(C, kGet1, 10), data(S, ok("one"), 20), data(C, kGet2, 30),
                       data(S, ok("two"), 40), close(CloseReason::Fin, 50)});
  REQUIRE(r.out.size() == 2);
  const HttpExchange& a = r.out[0];
  CHECK(a.connection_id == 42);
  CHECK(a.connection_index == 0);
  CHECK(a.client.port == 50000);
  CHECK(a.server.port == 80);
  CHECK(a.request.target == "/1");
  CHECK(text(a.response.body) == "one");
  CHECK(a.flags == ExchangeFlags::None);
  CHECK(a.request_first_ns == 10);
  CHECK(a.request_last_ns == 10);
  CHECK(a.response_first_ns == 20);
  CHECK(a.response_last_ns == 20);
  CHECK(r.out[1].connection_index == 1);
  CHECK(text(r.out[1].response.body) == "two");
  CHECK(r.stats.requests == 2);
  CHECK(r.stats.responses == 2);
  CHECK(r.stats.exchanges == 2);
  CHECK(r.stats.pipelined_depth_max == 1);
}

TEST_CASE("assembler: pipelining of three requests, responses in one segment",
          "[http][assembler]") {
  const Run r = grind({data(C, kGet1 + kGet2 + kGet3, 10),
                       data(S, ok("a") + ok("bb") + ok("ccc"), 20), close(CloseReason::Fin, 30)});
  REQUIRE(r.out.size() == 3);
  CHECK(r.out[0].request.target == "/1");
  CHECK(text(r.out[0].response.body) == "a");
  CHECK(r.out[1].request.target == "/2");
  CHECK(text(r.out[1].response.body) == "bb");
  CHECK(r.out[2].request.target == "/3");
  CHECK(text(r.out[2].response.body) == "ccc");
  CHECK(r.stats.pipelined_depth_max == 3);
  CHECK(r.stats.no_response == 0);
}

TEST_CASE("assembler: chunked request and response with extensions and trailers",
          "[http][assembler]") {
  const Run r = grind({data(C,
                            "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Check: 1\r\n\r\n",
                            1),
                       data(S,
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
                            "2;a=\"q\"\r\nok\r\n0\r\nX-T: done\r\n\r\n",
                            2),
                       data(C, kGet2, 3), data(S, ok("x"), 4)});
  REQUIRE(r.out.size() == 2);
  CHECK(text(r.out[0].request.body) == "wikipedia");
  CHECK(r.out[0].request.trailers == HttpHeaders{{"X-Check", "1"}});
  CHECK(text(r.out[0].response.body) == "ok");
  CHECK(r.out[0].response.trailers == HttpHeaders{{"X-T", "done"}});
  CHECK(text(r.out[1].response.body) == "x");
}

TEST_CASE("assembler: header case and order are kept", "[http][assembler]") {
  const Run r = grind({data(C,
                            "GET / HTTP/1.1\r\nhost: h\r\nX-Trace-ID: 9\r\nCookie: a=1\r\n"
                            "cookie: b=2\r\n\r\n",
                            1),
                       data(S,
                            "HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nSET-COOKIE: t=2\r\n"
                            "content-length: 0\r\n\r\n",
                            2)});
  REQUIRE(r.out.size() == 1);
  CHECK(r.out[0].request.headers ==
        HttpHeaders{{"host", "h"}, {"X-Trace-ID", "9"}, {"Cookie", "a=1"}, {"cookie", "b=2"}});
  CHECK(r.out[0].response.headers ==
        HttpHeaders{{"Set-Cookie", "s=1"}, {"SET-COOKIE", "t=2"}, {"content-length", "0"}});
}

TEST_CASE("assembler: HEAD, 204 and 304 have no body", "[http][assembler]") {
  const Run r = grind({data(C, "HEAD /h HTTP/1.1\r\n\r\n" + kGet1 + kGet2 + kGet3, 1),
                       data(S,
                            "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
                            "HTTP/1.1 204 No Content\r\n\r\n"
                            "HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\n\r\n" +
                                ok("last"),
                            2)});
  REQUIRE(r.out.size() == 4);
  CHECK(r.out[0].request.method == "HEAD");
  CHECK(r.out[0].response.body_size == 0);
  CHECK(r.out[1].response.status == 204);
  CHECK(r.out[2].response.status == 304);
  CHECK(text(r.out[3].response.body) == "last");
}

TEST_CASE("assembler: a response waits for its request's header", "[http][assembler]") {
  // The HEAD request's header is not complete when the response starts: the response must wait,
  // or it would be parsed as having a 10-byte body.
  const Run r = grind({data(C, "HEAD / HTTP/1.1\r\nHo", 1),
                       data(S, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 2),
                       data(C, "st: x\r\n\r\n", 3), data(C, kGet2, 4), data(S, ok("ok"), 5)});
  REQUIRE(r.out.size() == 2);
  CHECK(r.out[0].response.body_size == 0);
  CHECK(r.out[0].response_first_ns == 2);
  CHECK(r.out[0].request_last_ns == 3);
  CHECK(text(r.out[1].response.body) == "ok");
  CHECK(r.out[1].flags == ExchangeFlags::None);
}

TEST_CASE("assembler: 100 Continue is not the final response", "[http][assembler]") {
  const Run r =
      grind({data(C, "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 1),
             data(S, "HTTP/1.1 100 Continue\r\n\r\n", 2), data(C, "data", 3),
             data(S, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 4)});
  REQUIRE(r.out.size() == 1);
  CHECK(r.out[0].response.status == 201);
  CHECK(text(r.out[0].request.body) == "data");
  CHECK(r.out[0].request_last_ns == 3);
  CHECK(r.out[0].response_first_ns == 4);
  CHECK(r.stats.informational_responses == 1);
  CHECK(r.stats.responses == 1);
}

TEST_CASE("assembler: a 100 Continue followed by no response keeps its own times", "[http][assembler]") {
  // Found by fuzzing (tests/fuzz/corpus/http_stream/interim-then-garbage): the bytes after the
  // 100 started a response (its first byte time was taken) that never showed a status line, so
  // the exchange showed the 100 with a first byte later than its last.
  const Run r =
      grind({data(C, "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 1),
             data(S, "HTTP/1.1 100 Continue\r\n\r\n", 2), data(C, "data", 3),
             data(S, "HTTP/1.%1 201 Created\r\n\r\n", 4), close(CloseReason::Reset, 5)});
  REQUIRE(r.out.size() == 1);
  CHECK(r.out[0].response.status == 100);
  CHECK(r.out[0].response_first_ns == 2);
  CHECK(r.out[0].response_last_ns == 2);
  CHECK(has(r.out[0].flags, ExchangeFlags::ResponseIncomplete));
}

TEST_CASE("assembler: an orphan answered by a 1xx and a final response is placed at the final one",
          "[http][assembler]") {
  // Found by fuzzing (tests/fuzz/corpus/http_stream/orphan-interim-then-final): the orphan's
  // request times stayed at the 100's first byte while its response times moved to the 201's.
  const Run r = grind({data(C, kGet1, 1), data(S, ok("1"), 2), gap(C, 40, 3),
                       data(S, "HTTP/1.1 100 Continue\r\n\r\n", 4),
                       data(S, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 6)});
  REQUIRE(r.out.size() == 2);
  CHECK_FALSE(r.out[1].has_request);
  CHECK(r.out[1].response.status == 201);
  CHECK(r.out[1].response_first_ns == 6);
  CHECK(r.out[1].request_first_ns == 6);
  CHECK(r.out[1].request_last_ns == 6);
}

TEST_CASE("assembler: bytes the snaplen cut flag the message they were in", "[http][assembler]") {
  // The trace tells snaplen loss from packet loss: both are Gap, the first SnaplenTruncated too.
  const Run r = grind({data(C, kGet1, 1), data(S, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 2),
                       snaplen_gap(S, 8, 2), data(C, kGet2, 3), data(S, ok("2"), 4),
                       data(C, kGet3, 5), data(S, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 6),
                       gap(S, 8, 6)});
  REQUIRE(r.out.size() == 3);
  CHECK(flagged(r.out[0], ExchangeFlags::Gap));
  CHECK(flagged(r.out[0], ExchangeFlags::SnaplenTruncated));
  CHECK(flagged(r.out[0], ExchangeFlags::ResponseBodyTruncated));
  CHECK(r.out[0].response.body_size == 10);
  CHECK(r.out[1].flags == ExchangeFlags::None);
  CHECK(flagged(r.out[2], ExchangeFlags::Gap));
  CHECK_FALSE(flagged(r.out[2], ExchangeFlags::SnaplenTruncated));
}

TEST_CASE("assembler: upgrade to websocket stops parsing", "[http][assembler]") {
  const std::string frame =
      "\x81\x85"
      "abcd"
      "\x01\x02\x03\x04\x05";
  const Run r =
      grind({data(C, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 1),
             data(C, frame, 2),  // sent before the 101 arrived: held, then dropped
             data(S,
                  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n\x81\x02hi",
                  3),
             data(C, frame, 4), data(S, "\x81\x01x", 5)});
  REQUIRE(r.out.size() == 1);
  CHECK(flagged(r.out[0], ExchangeFlags::Upgrade));
  CHECK(r.out[0].response.status == 101);
  CHECK(r.stats.upgrades == 1);
  CHECK(r.stats.parse_errors == 0);
  CHECK(r.stats.bytes_after_upgrade == 2 * frame.size() + 4 + 3);
}

TEST_CASE("assembler: a refused upgrade goes on as HTTP", "[http][assembler]") {
  const Run r =
      grind({data(C, "GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n" + kGet2, 1),
             data(S, ok("no") + ok("yes"), 2)});
  REQUIRE(r.out.size() == 2);
  CHECK_FALSE(flagged(r.out[0], ExchangeFlags::Upgrade));
  CHECK(text(r.out[1].response.body) == "yes");
}

TEST_CASE("assembler: CONNECT opens a tunnel", "[http][assembler]") {
  const Run r = grind(
      {data(C, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 1),
       data(S, "HTTP/1.1 200 Connection Established\r\n\r\n", 2),
       data(C, "\x16\x03\x01\x02\x05 client hello", 3), data(S, "\x16\x03\x03 server hello", 4)});
  REQUIRE(r.out.size() == 1);
  CHECK(r.out[0].request.method == "CONNECT");
  CHECK(r.out[0].request.target == "example.com:443");
  CHECK(flagged(r.out[0], ExchangeFlags::Upgrade));
  CHECK(r.stats.parse_errors == 0);
  CHECK(r.stats.bytes_after_upgrade > 0);
}

TEST_CASE("assembler: bodies past max_body are counted, not stored", "[http][assembler]") {
  ExchangeAssembler::Options o;
  o.http.max_body = 8;
  const Run r =
      grind({data(C, "POST / HTTP/1.1\r\nContent-Length: 20\r\n\r\n01234567890123456789", 1),
             data(S, ok(std::string(30, 'r')), 2)},
            o);
  REQUIRE(r.out.size() == 1);
  CHECK(text(r.out[0].request.body) == "01234567");
  CHECK(r.out[0].request.body_size == 20);
  CHECK(r.out[0].response.body.size() == 8);
  CHECK(r.out[0].response.body_size == 30);
  CHECK(flagged(r.out[0], ExchangeFlags::RequestBodyTruncated));
  CHECK(flagged(r.out[0], ExchangeFlags::ResponseBodyTruncated));
  CHECK(r.stats.request_bodies_truncated == 1);
  CHECK(r.stats.response_bodies_truncated == 1);
}

TEST_CASE("assembler: gaps", "[http][assembler]") {
  SECTION("client gap inside a request body") {
    const Run r =
        grind({data(C, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 1), gap(C, 4, 2),
               data(C, "hij", 3), data(S, ok("k"), 4), data(C, kGet2, 5), data(S, ok("l"), 6)});
    REQUIRE(r.out.size() == 2);
    CHECK(flagged(r.out[0], ExchangeFlags::Gap));
    CHECK(flagged(r.out[0], ExchangeFlags::RequestBodyTruncated));
    CHECK(text(r.out[0].request.body) == "abc");
    CHECK(r.out[0].request.body_size == 10);
    CHECK(r.out[1].flags == ExchangeFlags::None);
    CHECK(r.stats.gaps == 1);
    CHECK(r.stats.gap_bytes == 4);
    CHECK(r.stats.gaps_in_body == 1);
    CHECK(r.stats.gap_exchanges == 1);
  }
  SECTION("client gap swallowing a whole request: its response is an orphan") {
    const Run r = grind({data(C, kGet1, 1), data(S, ok("1"), 2), data(S, ok("2"), 4),
                         gap(C, kGet2.size(), 5), data(C, kGet3, 5), data(S, ok("3"), 6)});
    REQUIRE(r.out.size() == 3);
    CHECK(r.out[0].request.target == "/1");
    CHECK(text(r.out[0].response.body) == "1");
    CHECK_FALSE(r.out[1].has_request);
    CHECK(text(r.out[1].response.body) == "2");
    CHECK(flagged(r.out[1], ExchangeFlags::Gap));
    CHECK(r.out[1].request_first_ns == 4);
    CHECK(r.out[2].request.target == "/3");
    CHECK(text(r.out[2].response.body) == "3");
    CHECK(r.stats.orphan_responses == 1);
  }
  SECTION("server gap swallowing a whole response: its request has none") {
    const Run r = grind({data(C, kGet1, 1), data(S, ok("1"), 2), data(C, kGet2, 3),
                         data(C, kGet3, 5), gap(S, 40, 6), data(S, ok("3"), 6)});
    REQUIRE(r.out.size() == 3);
    CHECK(r.out[1].request.target == "/2");
    CHECK(flagged(r.out[1], ExchangeFlags::NoResponse));
    CHECK(flagged(r.out[1], ExchangeFlags::Gap));
    CHECK(r.out[1].response_first_ns == 0);
    CHECK(r.out[2].request.target == "/3");
    CHECK(text(r.out[2].response.body) == "3");
    CHECK(flagged(r.out[2], ExchangeFlags::Gap));  // paired by the after-loss rule
    CHECK(r.stats.no_response == 1);
  }
  SECTION("server gap inside a response header") {
    const Run r = grind({data(C, kGet1, 1), data(S, "HTTP/1.1 200 OK\r\nContent-Ty", 2),
                         data(C, kGet2, 3), gap(S, 50, 4), data(S, ok("2"), 4)});
    REQUIRE(r.out.size() == 2);
    CHECK(r.out[0].response.status == 200);
    CHECK(flagged(r.out[0], ExchangeFlags::ResponseIncomplete));
    CHECK(flagged(r.out[0], ExchangeFlags::Gap));
    CHECK(text(r.out[1].response.body) == "2");
    CHECK(r.stats.response_incomplete == 1);
  }
  SECTION("server gap inside a response body") {
    const Run r =
        grind({data(C, kGet1, 1), data(S, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab", 2),
               gap(S, 2, 3), data(S, "ef", 3), data(C, kGet2, 4), data(S, ok("2"), 5)});
    REQUIRE(r.out.size() == 2);
    CHECK(flagged(r.out[0], ExchangeFlags::Gap));
    CHECK(flagged(r.out[0], ExchangeFlags::ResponseBodyTruncated));
    CHECK_FALSE(flagged(r.out[0], ExchangeFlags::ResponseIncomplete));
    CHECK(r.out[0].response.body_size == 6);
    CHECK(r.out[1].flags == ExchangeFlags::None);
  }
  SECTION("server gap right at a response start: no status line, no pairing") {
    const Run r = grind({data(C, kGet1, 1), data(S, "HT", 2), gap(S, 100, 3), data(C, kGet2, 4),
                         data(S, ok("2"), 5)});
    REQUIRE(r.out.size() == 2);
    CHECK(flagged(r.out[0], ExchangeFlags::NoResponse));
    CHECK(flagged(r.out[0], ExchangeFlags::Gap));
    CHECK(r.out[1].request.target == "/2");
    CHECK(text(r.out[1].response.body) == "2");
  }
  SECTION("pipelined requests and a lost response: the heuristic's known limit") {
    // /1 and /2 were pipelined and /1's response was lost: the response found after the gap goes
    // to the latest request sent before it, which is right here, and the pair carries Gap.
    const Run r = grind({data(C, kGet1 + kGet2, 1), gap(S, 45, 2), data(S, ok("2"), 2)});
    REQUIRE(r.out.size() == 2);
    CHECK(flagged(r.out[0], ExchangeFlags::NoResponse));
    CHECK(text(r.out[1].response.body) == "2");
    CHECK(flagged(r.out[1], ExchangeFlags::Gap));
  }
  SECTION("client gap inside a request header") {
    const Run r = grind({data(C, "GET /1 HTTP/1.1\r\nHo", 1), gap(C, 30, 2), data(C, kGet2, 3),
                         data(S, ok("1") + ok("2"), 4)});
    REQUIRE(r.out.size() == 2);
    CHECK(r.out[0].request.target == "/1");
    CHECK(flagged(r.out[0], ExchangeFlags::RequestIncomplete));
    CHECK(flagged(r.out[0], ExchangeFlags::Gap));
    CHECK(text(r.out[0].response.body) == "1");
    CHECK(text(r.out[1].response.body) == "2");
  }
}

TEST_CASE("assembler: a connection seen from its middle", "[http][assembler]") {
  const Run r = grind({data(C, "ccept: */*\r\n\r\n", 1),
                       data(S, "ail of a body}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA", 2),
                       data(C, kGet2, 3), data(S, ok("B"), 4)},
                      {}, false);
  REQUIRE(r.out.size() == 2);
  CHECK_FALSE(r.out[0].has_request);
  CHECK(text(r.out[0].response.body) == "A");
  CHECK(r.out[1].request.target == "/2");
  CHECK(text(r.out[1].response.body) == "B");
  CHECK(r.stats.midstream_starts == 2);
}

TEST_CASE("assembler: garbage is a parse error and the stream resyncs", "[http][assembler]") {
  SECTION("in requests") {
    const Run r = grind({data(C, kGet1 + "\x16\x03 garbage\r\n" + kGet2, 1), data(S, ok("1"), 2),
                         data(S, ok("2"), 3)});
    REQUIRE(r.out.size() == 2);
    CHECK(r.out[0].flags == ExchangeFlags::None);
    CHECK(r.out[1].request.target == "/2");
    CHECK(flagged(r.out[1], ExchangeFlags::ParseError));
    CHECK(text(r.out[1].response.body) == "2");
    CHECK(r.stats.parse_errors == 1);
    CHECK(r.stats.resyncs == 1);
  }
  SECTION("in responses") {
    const Run r = grind({data(C, kGet1 + kGet2, 1), data(S, ok("1") + "XX junk\r\n" + ok("2"), 2)});
    REQUIRE(r.out.size() == 2);
    CHECK(text(r.out[0].response.body) == "1");
    CHECK(text(r.out[1].response.body) == "2");
    CHECK(flagged(r.out[1], ExchangeFlags::ParseError));
    CHECK(r.stats.parse_errors == 1);
  }
  SECTION("a bad header field") {
    const Run r =
        grind({data(C, "GET /bad HTTP/1.1\r\nNo Colon Here\r\n\r\n" + kGet2, 1),
               data(S, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + ok("2"), 2)});
    REQUIRE(r.out.size() == 2);
    CHECK(r.out[0].request.target == "/bad");
    CHECK(flagged(r.out[0], ExchangeFlags::ParseError));
    CHECK(r.out[0].response.status == 400);
    CHECK(text(r.out[1].response.body) == "2");
  }
}

TEST_CASE("assembler: endings", "[http][assembler]") {
  SECTION("requests unanswered at close") {
    const Run r =
        grind({data(C, kGet1 + kGet2 + kGet3, 1), data(S, ok("1"), 2), close(CloseReason::Fin, 3)});
    REQUIRE(r.out.size() == 3);
    CHECK(r.out[0].has_response());
    CHECK(flagged(r.out[1], ExchangeFlags::NoResponse));
    CHECK(flagged(r.out[2], ExchangeFlags::NoResponse));
    CHECK_FALSE(flagged(r.out[2], ExchangeFlags::Gap));
    CHECK(r.stats.no_response == 2);
  }
  SECTION("an unsolicited 408 before the close answers no later request") {
    const Run r = grind({data(C, kGet1, 1), data(S, ok("1"), 2),
                         data(S,
                              "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                              "Content-Length: 0\r\n\r\n",
                              10),
                         data(C, kGet2, 11), close(CloseReason::Fin, 12)});
    REQUIRE(r.out.size() == 3);
    CHECK_FALSE(r.out[1].has_request);
    CHECK(r.out[1].response.status == 408);
    CHECK(r.out[2].request.target == "/2");
    CHECK(flagged(r.out[2], ExchangeFlags::NoResponse));
  }
  SECTION("a response cut by a reset") {
    const Run r =
        grind({data(C, kGet1, 1), data(S, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 2),
               close(CloseReason::Reset, 3)});
    REQUIRE(r.out.size() == 1);
    CHECK(flagged(r.out[0], ExchangeFlags::ResponseIncomplete));
    CHECK(text(r.out[0].response.body) == "abc");
  }
  SECTION("a close-delimited response ended by FIN") {
    const Run r = grind({data(C, kGet1, 1), data(S, "HTTP/1.0 200 OK\r\n\r\nall of it", 2),
                         half_close(S, 3), close(CloseReason::Fin, 4)});
    REQUIRE(r.out.size() == 1);
    CHECK(r.out[0].flags == ExchangeFlags::None);
    CHECK(text(r.out[0].response.body) == "all of it");
  }
  SECTION("a close-delimited response cut by the end of the capture") {
    const Run r = grind({data(C, kGet1, 1), data(S, "HTTP/1.0 200 OK\r\n\r\nsome", 2),
                         close(CloseReason::EndOfInput, 4)});
    REQUIRE(r.out.size() == 1);
    CHECK(flagged(r.out[0], ExchangeFlags::ResponseIncomplete));
  }
  SECTION("a request cut by the close") {
    const Run r = grind({data(C, "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc", 1),
                         close(CloseReason::Reset, 2)});
    REQUIRE(r.out.size() == 1);
    CHECK(flagged(r.out[0], ExchangeFlags::RequestIncomplete));
    CHECK(flagged(r.out[0], ExchangeFlags::NoResponse));
  }
  SECTION("released without on_close: nothing is lost") {
    Run r;
    ExchangeAssembler a({}, [&r](HttpExchange&& x) { r.out.push_back(std::move(x)); });
    StreamSink* sink = a.open(ConnectionInfo{});
    const std::vector<std::uint8_t> get(kGet1.begin(), kGet1.end());
    sink->on_data(C, get, 1);
    CHECK(a.open_connections() == 1);
    a.release(sink);
    CHECK(a.open_connections() == 0);
    REQUIRE(r.out.size() == 1);
    CHECK(flagged(r.out[0], ExchangeFlags::NoResponse));
  }
}

TEST_CASE("assembler: timestamps of first and last bytes across calls", "[http][assembler]") {
  const Run r =
      grind({data(C, "POST /t HTTP/1.1\r\nCont", 100), data(C, "ent-Length: 4\r\n\r\nab", 110),
             data(C, "cd", 120), data(S, "HTTP/1.1 200 OK\r\nContent-Len", 200),
             data(S, "gth: 2\r\n\r\n", 210), data(S, "o", 220), data(S, "k", 230)});
  REQUIRE(r.out.size() == 1);
  CHECK(r.out[0].request_first_ns == 100);
  CHECK(r.out[0].request_last_ns == 120);
  CHECK(r.out[0].response_first_ns == 200);
  CHECK(r.out[0].response_last_ns == 230);
}

TEST_CASE("assembler: oldest_open_ns is a watermark of what is still held", "[http][assembler]") {
  constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();
  std::vector<HttpExchange> out;
  ExchangeAssembler a({}, [&out](HttpExchange&& x) { out.push_back(std::move(x)); });
  CHECK(a.oldest_open_ns() == kNone);
  ConnectionInfo info;
  info.syn_seen = true;
  StreamSink* one = a.open(info);
  StreamSink* two = a.open(info);
  CHECK(a.oldest_open_ns() == kNone);
  const auto bytes = [](const std::string& s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
  };
  one->on_data(C, bytes("GET / HT"), 50);  // header not whole yet: no slot, still held
  CHECK(a.oldest_open_ns() == 50);
  two->on_data(S, bytes("HTTP/1.1 200 OK\r\n"), 40);  // waits for a request: may be an orphan
  CHECK(a.oldest_open_ns() == 40);
  two->on_data(C, bytes(kGet1), 45);
  two->on_data(S, bytes("Content-Length: 0\r\n\r\n"), 46);
  REQUIRE(out.size() == 1);  // the response began before /1: an orphan; /1 waits for its own
  CHECK_FALSE(out[0].has_request);
  CHECK(a.oldest_open_ns() == 45);
  one->on_data(C, bytes("TP/1.1\r\n\r\n"), 60);
  two->on_data(S, bytes(ok("x")), 70);
  CHECK(a.oldest_open_ns() == 50);
  one->on_data(S, bytes(ok("y")), 80);
  CHECK(out.size() == 3);
  CHECK(a.oldest_open_ns() == kNone);
  a.release(one);
  a.release(two);
}

TEST_CASE("assembler: max_pending_requests", "[http][assembler]") {
  ExchangeAssembler::Options o;
  o.max_pending_requests = 2;
  const Run r =
      grind({data(C, kGet1 + kGet2 + kGet3, 1), data(S, ok("1") + ok("2") + ok("3"), 2)}, o);
  REQUIRE(r.out.size() == 4);
  CHECK(r.out[0].request.target == "/1");
  CHECK(flagged(r.out[0], ExchangeFlags::NoResponse));
  CHECK_FALSE(r.out[1].has_request);
  CHECK(text(r.out[1].response.body) == "1");
  CHECK(text(r.out[2].response.body) == "2");
  CHECK(text(r.out[3].response.body) == "3");
  CHECK(r.stats.pending_limit_hits == 1);
}

namespace {

// Random but reproducible traffic: `count` exchanges of assorted shapes, their bytes, and what
// the assembler must make of them.
struct Traffic {
  std::vector<Step> steps;
  std::vector<std::string> targets;
  std::vector<unsigned> statuses;
  std::vector<std::string> response_bodies;
};

Traffic make_traffic(std::mt19937& rng, int count, bool pipelined) {
  Traffic t;
  std::int64_t ts = 1;
  std::vector<std::string> requests, responses;
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const auto body = [&](int max) {
    std::string b(static_cast<std::size_t>(pick(max)), 'b');
    for (auto& c : b) c = static_cast<char>('a' + pick(26));
    return b;
  };
  for (int i = 0; i < count; ++i) {
    const std::string target = "/" + std::to_string(i);
    std::string rq, rs;
    std::string rbody;
    unsigned status = 200;
    switch (pick(5)) {
      case 0:
        rq = "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
        break;
      case 1: {
        const std::string b = body(40);
        rq = "POST " + target + " HTTP/1.1\r\nContent-Length: " + std::to_string(b.size()) +
             "\r\n\r\n" + b;
        break;
      }
      case 2:
        rq = "POST " + target +
             " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n"
             "0\r\nT: 1\r\n\r\n";
        break;
      case 3:
        rq = "HEAD " + target + " HTTP/1.1\r\n\r\n";
        rs = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        break;
      default:
        rq = "PUT " + target + " HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
        rs = "HTTP/1.1 100 Continue\r\n\r\n";
        break;
    }
    if (rs.empty() || rs.find("100 Continue") != std::string::npos) {
      switch (pick(4)) {
        case 0:
          rbody = body(60);
          rs += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(rbody.size()) + "\r\n\r\n" +
                rbody;
          break;
        case 1:
          rbody = body(30);
          rs += "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n";
          if (!rbody.empty()) {
            std::ostringstream hex;
            hex << std::hex << rbody.size();
            rs += hex.str() + "\r\n" + rbody + "\r\n";
          }
          rs += "0\r\n\r\n";
          status = 201;
          break;
        case 2:
          rs += "HTTP/1.1 204 No Content\r\n\r\n";
          status = 204;
          break;
        default:
          rs += "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n";
          status = 304;
          break;
      }
    }
    t.targets.push_back(target);
    t.statuses.push_back(status);
    t.response_bodies.push_back(rbody);
    requests.push_back(rq);
    responses.push_back(rs);
  }
  if (pipelined) {
    std::string all_rq, all_rs;
    for (const auto& r : requests) all_rq += r;
    for (const auto& r : responses) all_rs += r;
    t.steps.push_back(data(C, all_rq, ts++));
    t.steps.push_back(data(S, all_rs, ts++));
  } else {
    for (int i = 0; i < count; ++i) {
      t.steps.push_back(data(C, requests[static_cast<std::size_t>(i)], ts++));
      t.steps.push_back(data(S, responses[static_cast<std::size_t>(i)], ts++));
    }
  }
  t.steps.push_back(close(CloseReason::Fin, ts));
  return t;
}

// Cuts every data step at a few random points.
Cuts random_cuts(std::mt19937& rng) {
  return [&rng](std::size_t, std::size_t size) {
    std::vector<std::size_t> at;
    for (int k = 0; k < 4 && size > 1; ++k) at.push_back(1 + rng() % (size - 1));
    std::sort(at.begin(), at.end());
    return at;
  };
}

}  // namespace

TEST_CASE("assembler: random traffic is reassembled exactly", "[http][assembler]") {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 200; ++round) {
    const Traffic t = make_traffic(rng, 1 + round % 7, round % 2 == 1);
    const Run r = run(t.steps, {}, true, random_cuts(rng));
    std::ostringstream story;
    for (const auto& st : t.steps) story << (st.dir == C ? "C: " : "S: ") << st.bytes << "\n";
    for (const auto& d : r.described) story << d << "\n";
    INFO("round " << round << "\n" << story.str());
    REQUIRE(r.out.size() == t.targets.size());
    for (std::size_t i = 0; i < r.out.size(); ++i) {
      CHECK(r.out[i].request.target == t.targets[i]);
      CHECK(r.out[i].response.status == t.statuses[i]);
      CHECK(text(r.out[i].response.body) == t.response_bodies[i]);
      CHECK(r.out[i].flags == ExchangeFlags::None);
    }
  }
}

TEST_CASE("assembler: random traffic with random losses keeps its invariants",
          "[http][assembler]") {
  // Drops random byte ranges (as gaps) and inserts garbage; the run() invariants (nothing
  // dropped, counters agree) and ASan do the checking, plus: indices are dense and in order.
  std::mt19937 rng(77);
  for (int round = 0; round < 300; ++round) {
    Traffic t = make_traffic(rng, 1 + round % 6, round % 3 == 0);
    std::vector<Step> steps;
    for (const Step& st : t.steps) {
      if (st.type != Step::Type::Data || rng() % 3 != 0 || st.bytes.size() < 2) {
        steps.push_back(st);
        continue;
      }
      const std::size_t from = rng() % st.bytes.size();
      const std::size_t len = 1 + rng() % (st.bytes.size() - from);
      if (from > 0) steps.push_back(data(st.dir, st.bytes.substr(0, from), st.ts));
      if (rng() % 4 == 0) {
        steps.push_back(data(st.dir, "\x01garbage\r\n", st.ts));
      } else {
        steps.push_back(gap(st.dir, len, st.ts));
      }
      if (from + len < st.bytes.size())
        steps.push_back(data(st.dir, st.bytes.substr(from + len), st.ts));
    }
    const Run r = run(steps, {}, round % 5 != 0, random_cuts(rng));
    INFO("round " << round);
    for (std::size_t i = 0; i < r.out.size(); ++i) CHECK(r.out[i].connection_index == i);
    CHECK(r.out.size() <= 2 * t.targets.size());
  }
}

TEST_CASE("assembler: options are validated", "[http][assembler]") {
  ExchangeAssembler::Options o;
  CHECK(ExchangeAssembler::validate(o).ok());
  o.max_pending_requests = 0;
  CHECK_FALSE(ExchangeAssembler::validate(o).ok());
  CHECK_THROWS_AS(ExchangeAssembler(o, [](HttpExchange&&) {}), std::invalid_argument);
}

TEST_CASE("assembler: stats list every counter once", "[http][assembler]") {
  HttpStats stats;
  stats.pipelined_depth_max = 7;
  std::set<std::string> names;
  std::uint64_t sum = 0;
  std::size_t calls = 0;
  stats.for_each([&](std::string_view name, std::uint64_t value) {
    names.emplace(name);
    sum += value;
    ++calls;
  });
  CHECK(calls == names.size());
  CHECK(calls == sizeof(HttpStats) / sizeof(std::uint64_t));
  CHECK(sum == 7);
}

}  // namespace reprise::capture
