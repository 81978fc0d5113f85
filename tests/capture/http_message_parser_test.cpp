// HttpMessageParser alone: one direction's bytes in, messages out. Every input is also fed at every
// split point and byte by byte ("parsegrind"), each piece in its own exactly sized heap buffer so
// AddressSanitizer catches a read past the end.

#include "reprise/capture/http_message_parser.hpp"

#include <catch2/catch.hpp>

#include "split_feed.hpp"
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace reprise::capture {
namespace {

using Parser = HttpMessageParser;
using Kind = Parser::Kind;
using Event = Parser::Event;

// One step of input: bytes, a gap, or the end.
struct Step {
  enum class Type { Data, Gap, Eof } type = Type::Data;
  std::string bytes;
  std::uint64_t missing = 0;
  bool clean = true;
  std::int64_t ts = 0;
};

Step data(std::string bytes, std::int64_t ts = 0) {
  return {Step::Type::Data, std::move(bytes), 0, true, ts};
}
Step gap(std::uint64_t missing, std::int64_t ts = 0) {
  return {Step::Type::Gap, {}, missing, true, ts};
}
Step eof(bool clean = true) { return {Step::Type::Eof, {}, 0, clean, 0}; }

std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

std::string describe_headers(const HttpHeaders& h) {
  std::string out;
  for (const auto& [n, v] : h) out += n + ": " + v + "|";
  return out;
}

// Everything observable about one message and the start info it came with.
std::string describe(const Parser::Message& m, const Parser::StartInfo& s) {
  std::ostringstream o;
  o << "start(" << s.first_ns << "," << s.after_loss << "," << static_cast<unsigned>(s.loss_cause)
    << ") ns=" << m.first_ns << ".." << m.last_ns << " sl=" << m.has_start_line
    << " complete=" << m.complete << " trunc=" << m.body_truncated << " gap=" << m.gap
    << " perr=" << m.parse_error << " upg=" << m.upgrade << " | ";
  if (!m.request.method.empty() || !m.request.target.empty()) {
    o << m.request.method << " " << m.request.target << " v" << int{m.request.version} << " H["
      << describe_headers(m.request.headers) << "] T[" << describe_headers(m.request.trailers)
      << "] body=" << text(m.request.body) << " size=" << m.request.body_size;
  } else {
    o << m.response.status << " " << m.response.reason << " v" << int{m.response.version} << " H["
      << describe_headers(m.response.headers) << "] T[" << describe_headers(m.response.trailers)
      << "] body=" << text(m.response.body) << " size=" << m.response.body_size;
  }
  return o.str();
}

struct Run {
  std::vector<Parser::Message> messages;
  std::vector<Parser::StartInfo> starts;
  std::vector<std::string> described;
  HttpStats stats;
};

using SetupFor = std::function<Parser::Setup(std::size_t message_index)>;

void drain(Parser& p, Run& run, const SetupFor& setup_for) {
  for (;;) {
    switch (p.next()) {
      case Event::NeedMore:
        return;
      case Event::MessageStart:
        run.starts.push_back(p.start());
        p.begin(setup_for ? setup_for(run.starts.size() - 1) : Parser::Setup{});
        break;
      case Event::HeaderDone:
        REQUIRE(p.current().has_start_line);
        break;
      case Event::MessageDone:
      case Event::MessageBroken:
        run.messages.push_back(p.take());
        run.described.push_back(describe(run.messages.back(), run.starts.back()));
        break;
    }
  }
}

// Feeds the steps; each data step goes in as the pieces given by `cuts` (offsets inside it).
Run run_steps(
    Kind kind, const std::vector<Step>& steps, const Parser::Options& options = {},
    const SetupFor& setup_for = {}, bool midstream = false,
    const std::function<std::vector<std::size_t>(std::size_t step, std::size_t size)>& cuts = {}) {
  Run run;
  Parser p(kind, options, run.stats);
  if (midstream) p.expect_midstream();
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const Step& st = steps[k];
    switch (st.type) {
      case Step::Type::Data: {
        test::split_feed(st.bytes, cuts ? cuts(k, st.bytes.size()) : std::vector<std::size_t>{},
                         [&](std::span<const std::uint8_t> piece) {
                           p.push(piece, st.ts);
                           drain(p, run, setup_for);
                         });
        break;
      }
      case Step::Type::Gap:
        p.gap(st.missing, st.ts, GapCause::Lost);
        drain(p, run, setup_for);
        break;
      case Step::Type::Eof:
        p.eof(st.clean);
        drain(p, run, setup_for);
        break;
    }
  }
  return run;
}

// Runs the steps whole, then every data step cut at every point, then every data step byte by
// byte, and requires the same messages each time. Returns the whole run.
Run grind(Kind kind, const std::vector<Step>& steps, const Parser::Options& options = {},
          const SetupFor& setup_for = {}, bool midstream = false) {
  Run whole = run_steps(kind, steps, options, setup_for, midstream);
  for (std::size_t k = 0; k < steps.size(); ++k) {
    if (steps[k].type != Step::Type::Data) continue;
    for (std::size_t i = 1; i < steps[k].bytes.size(); ++i) {
      const Run split =
          run_steps(kind, steps, options, setup_for, midstream, [&](std::size_t step, std::size_t) {
            return step == k ? std::vector<std::size_t>{i} : std::vector<std::size_t>{};
          });
      INFO("step " << k << " split at " << i);
      REQUIRE(split.described == whole.described);
    }
  }
  const Run bytewise =
      run_steps(kind, steps, options, setup_for, midstream, [](std::size_t, std::size_t size) {
        std::vector<std::size_t> at;
        for (std::size_t i = 1; i < size; ++i) at.push_back(i);
        return at;
      });
  INFO("byte by byte");
  REQUIRE(bytewise.described == whole.described);
  return whole;
}

const HttpRequest& req(const Run& r, std::size_t i) { return r.messages.at(i).request; }
const HttpResponse& resp(const Run& r, std::size_t i) { return r.messages.at(i).response; }

}  // namespace

TEST_CASE("parser: request with headers keeps case and order", "[http][parser]") {
  const Run r = grind(Kind::Request, {data("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-MiXeD: 1\r\n"
                                           "accept: */*\r\nX-Mixed: 2\r\n\r\n")});
  REQUIRE(r.messages.size() == 1);
  const auto& q = req(r, 0);
  CHECK(q.method == "GET");
  CHECK(q.target == "/a?b=c");
  CHECK(q.version == 11);
  CHECK(q.headers ==
        HttpHeaders{{"Host", "x"}, {"X-MiXeD", "1"}, {"accept", "*/*"}, {"X-Mixed", "2"}});
  CHECK(r.messages[0].complete);
  CHECK(q.body.empty());
  CHECK(r.stats.parse_errors == 0);
}

TEST_CASE("parser: Content-Length bodies, keep-alive, HTTP/1.0", "[http][parser]") {
  const Run r = grind(Kind::Request, {data("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                                           "PUT /q HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")});
  REQUIRE(r.messages.size() == 2);
  CHECK(text(req(r, 0).body) == "hello");
  CHECK(req(r, 0).body_size == 5);
  CHECK(req(r, 1).method == "PUT");
  CHECK(req(r, 1).version == 10);
  CHECK(text(req(r, 1).body) == "abc");
}

TEST_CASE("parser: chunked request with extensions and trailers", "[http][parser]") {
  const Run r =
      grind(Kind::Request,
            {data("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                  "5;name=val\r\nhello\r\n6\r\n world\r\n0;last\r\nX-Sum: 42\r\n\r\n"
                  "GET /next HTTP/1.1\r\n\r\n")});
  REQUIRE(r.messages.size() == 2);
  CHECK(text(req(r, 0).body) == "hello world");
  CHECK(req(r, 0).body_size == 11);
  CHECK(req(r, 0).trailers == HttpHeaders{{"X-Sum", "42"}});
  CHECK(req(r, 0).headers.size() == 2);
  CHECK(req(r, 1).target == "/next");
}

TEST_CASE("parser: chunked response", "[http][parser]") {
  const Run r =
      grind(Kind::Response, {data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n0\r\n\r\n"
                                  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")});
  REQUIRE(r.messages.size() == 2);
  CHECK(resp(r, 0).status == 200);
  CHECK(resp(r, 0).reason == "OK");
  CHECK(text(resp(r, 0).body) == "abc");
  CHECK(resp(r, 1).status == 404);
  CHECK(resp(r, 1).reason == "Not Found");
}

TEST_CASE("parser: close-delimited response body", "[http][parser]") {
  SECTION("a FIN completes it") {
    const Run r = grind(Kind::Response,
                        {data("HTTP/1.0 200 OK\r\nServer: s\r\n\r\nuntil the end"), eof(true)});
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].complete);
    CHECK(text(resp(r, 0).body) == "until the end");
  }
  SECTION("a reset leaves it incomplete") {
    const Run r = grind(Kind::Response, {data("HTTP/1.1 200 OK\r\n\r\npartial"), eof(false)});
    REQUIRE(r.messages.size() == 1);
    CHECK_FALSE(r.messages[0].complete);
    CHECK(text(resp(r, 0).body) == "partial");
  }
}

TEST_CASE("parser: responses without body", "[http][parser]") {
  SECTION("HEAD: Content-Length but no body") {
    const Run r = grind(Kind::Response,
                        {data("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                        {}, [](std::size_t i) {
                          Parser::Setup s;
                          s.skip_body = i == 0;
                          return s;
                        });
    REQUIRE(r.messages.size() == 2);
    CHECK(resp(r, 0).body_size == 0);
    CHECK(resp(r, 0).headers == HttpHeaders{{"Content-Length", "1234"}});
    CHECK(text(resp(r, 1).body) == "ok");
  }
  SECTION("204 and 304") {
    const Run r =
        grind(Kind::Response, {data("HTTP/1.1 204 No Content\r\n\r\n"
                                    "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"
                                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")});
    REQUIRE(r.messages.size() == 3);
    CHECK(resp(r, 0).status == 204);
    CHECK(resp(r, 1).status == 304);
    CHECK(resp(r, 1).body_size == 0);
    CHECK(text(resp(r, 2).body) == "x");
  }
  SECTION("100 Continue is a message of its own") {
    const Run r =
        grind(Kind::Response, {data("HTTP/1.1 100 Continue\r\n\r\n"
                                    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")});
    REQUIRE(r.messages.size() == 2);
    CHECK(resp(r, 0).status == 100);
    CHECK_FALSE(r.messages[0].upgrade);
    CHECK(resp(r, 1).status == 201);
  }
}

TEST_CASE("parser: protocol switches stop parsing", "[http][parser]") {
  SECTION("101") {
    const Run r =
        grind(Kind::Response, {data("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n\r\n\x81\x05hello"),
                               data("\x82\x01z")});
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].upgrade);
    CHECK(r.stats.bytes_after_upgrade == 10);
    CHECK(r.stats.parse_errors == 0);
  }
  SECTION("2xx to CONNECT") {
    const Run r =
        grind(Kind::Response, {data("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01 tls")},
              {}, [](std::size_t) {
                Parser::Setup s;
                s.tunnel_on_2xx = true;
                return s;
              });
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].upgrade);
    CHECK(r.messages[0].complete);
    CHECK(r.stats.bytes_after_upgrade == 7);
  }
  SECTION("a request asking for an upgrade is flagged, parsing goes on") {
    const Run r =
        grind(Kind::Request, {data("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
                                   "Upgrade: websocket\r\n\r\nCONNECT h:443 HTTP/1.1\r\n\r\n"
                                   "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n")});
    REQUIRE(r.messages.size() == 3);
    CHECK(r.messages[0].upgrade);
    CHECK(r.messages[1].upgrade);
    CHECK_FALSE(r.messages[2].upgrade);  // no Upgrade field: nothing to switch to
  }
}

TEST_CASE("parser: regression: empty chunked body fed in small pieces", "[http][parser]") {
  // Beast asserts when the last-chunk line came in one call and the next call is under 5 bytes.
  const Run r = grind(Kind::Response, {data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                            "0\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                                            "\r\n\r\n0\r\nA: b\r\n\r\n")});
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].complete);
  CHECK(resp(r, 1).trailers == HttpHeaders{{"A", "b"}});
}

TEST_CASE("parser: body limit stores a prefix and counts the rest", "[http][parser]") {
  Parser::Options o;
  o.max_body = 4;
  const Run r = grind(Kind::Request,
                      {data("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
                            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
                            "3\r\ndef\r\n0\r\n\r\n")},
                      o);
  REQUIRE(r.messages.size() == 2);
  CHECK(text(req(r, 0).body) == "0123");
  CHECK(req(r, 0).body_size == 10);
  CHECK(r.messages[0].body_truncated);
  CHECK(r.messages[0].complete);
  CHECK(text(req(r, 1).body) == "abcd");
  CHECK(req(r, 1).body_size == 6);
  CHECK(r.messages[1].body_truncated);
}

TEST_CASE("parser: header limit is a parse error, then resync", "[http][parser]") {
  Parser::Options o;
  o.max_header_bytes = 64;
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(100, 'a') + "\r\n\r\n";
  const Run r = grind(Kind::Request, {data(big + "GET /ok HTTP/1.1\r\n\r\n")}, o);
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].parse_error);
  CHECK_FALSE(r.messages[0].complete);
  CHECK(req(r, 0).target == "/");
  CHECK(req(r, 1).target == "/ok");
  CHECK(r.starts[1].after_loss);
  CHECK(r.starts[1].loss_cause == ExchangeFlags::ParseError);
  CHECK(r.stats.header_limit_hits == 1);
  CHECK(r.stats.parse_errors == 1);
  CHECK(r.stats.resyncs == 1);
}

TEST_CASE("parser: garbage is a parse error, then resync", "[http][parser]") {
  SECTION("garbage between messages") {
    const std::string garbage = "\x01\x02 garbage GET no\r\n";
    const Run r = grind(Kind::Request,
                        {data("GET /1 HTTP/1.1\r\n\r\n" + garbage + "GET /2 HTTP/1.1\r\n\r\n")});
    // The garbage is reported as a broken message without start line, then the scan finds /2.
    REQUIRE(r.messages.size() == 3);
    CHECK_FALSE(r.messages[1].has_start_line);
    CHECK(r.messages[1].parse_error);
    CHECK(req(r, 2).target == "/2");
    CHECK(r.starts[2].after_loss);
    CHECK(r.stats.parse_errors == 1);
    CHECK(r.stats.resyncs == 1);
    CHECK(r.stats.resync_bytes_skipped == garbage.size());
  }
  SECTION("a bad field breaks the message that has it") {
    const Run r = grind(Kind::Response, {data("HTTP/1.1 200 OK\r\nBad Field\r\n\r\n"
                                              "HTTP/1.1 204 No Content\r\n\r\n")});
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0].parse_error);
    CHECK(r.messages[0].has_start_line);
    CHECK(resp(r, 1).status == 204);
  }
  SECTION("a plausible but unsupported version cannot loop") {
    const Run r = grind(Kind::Request, {data("GET / HTTP/1.7\r\n\r\nGET /b HTTP/1.1\r\n\r\n")});
    REQUIRE(r.messages.size() == 2);
    CHECK_FALSE(r.messages[0].has_start_line);
    CHECK(req(r, 1).target == "/b");
    CHECK(r.stats.parse_errors == 1);
  }
}

TEST_CASE("parser: empty lines between messages are skipped", "[http][parser]") {
  const Run r = grind(Kind::Request, {data("\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\n"
                                           "GET / HTTP/1.1\r\n\r\n")});
  REQUIRE(r.messages.size() == 2);
  CHECK(r.stats.parse_errors == 0);
  CHECK(r.stats.resync_bytes_skipped == 0);
}

TEST_CASE("parser: mid-stream start", "[http][parser]") {
  SECTION("first bytes are a message start") {
    const Run r =
        grind(Kind::Response, {data("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")}, {}, {}, true);
    REQUIRE(r.messages.size() == 1);
    CHECK_FALSE(r.starts[0].after_loss);
    CHECK(r.stats.midstream_starts == 0);
  }
  SECTION("first bytes are the tail of a body") {
    const Run r =
        grind(Kind::Response, {data("y\": 2}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")}, {},
              {}, true);
    REQUIRE(r.messages.size() == 1);
    CHECK(text(resp(r, 0).body) == "ok");
    CHECK(r.starts[0].after_loss);
    CHECK(r.starts[0].loss_cause == ExchangeFlags::Gap);
    CHECK(r.stats.midstream_starts == 1);
    CHECK(r.stats.resync_bytes_skipped == 6);
  }
  SECTION("first bytes are the middle of a request line") {
    const Run r =
        grind(Kind::Request, {data("alf HTTP/1.1\r\nHost: h\r\n\r\nGET /whole HTTP/1.1\r\n\r\n")},
              {}, {}, true);
    REQUIRE(r.messages.size() == 1);
    CHECK(req(r, 0).target == "/whole");
  }
}

TEST_CASE("parser: gaps", "[http][parser]") {
  SECTION("inside a Content-Length body: the message goes on") {
    const Run r =
        grind(Kind::Request, {data("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 1),
                              gap(4, 2), data("xyz", 3), data("GET / HTTP/1.1\r\n\r\n", 4)});
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0].complete);
    CHECK(r.messages[0].gap);
    CHECK(r.messages[0].body_truncated);
    CHECK(text(req(r, 0).body) == "abc");  // never bytes after the hole
    CHECK(req(r, 0).body_size == 10);
    CHECK(r.messages[0].last_ns == 3);
    CHECK_FALSE(r.starts[1].after_loss);
    CHECK(r.stats.gaps_in_body == 1);
  }
  SECTION("ending exactly at the end of a body: no loss") {
    const Run r = grind(Kind::Request, {data("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 1),
                                        gap(7, 2), data("GET / HTTP/1.1\r\n\r\n", 3)});
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0].complete);
    CHECK(r.messages[0].last_ns == 2);
    CHECK_FALSE(r.starts[1].after_loss);
  }
  SECTION("past the end of a body: complete, then resync") {
    const Run r =
        grind(Kind::Request, {data("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 1),
                              gap(50, 2), data("ders\r\n\r\nGET /x HTTP/1.1\r\n\r\n", 3)});
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0].complete);
    CHECK(r.messages[0].gap);
    CHECK(req(r, 1).target == "/x");
    CHECK(r.starts[1].after_loss);
    CHECK(r.stats.resync_bytes_skipped == 8);
  }
  SECTION("inside a header: the message is broken") {
    const Run r = grind(Kind::Response, {data("HTTP/1.1 200 OK\r\nContent-Ty", 1), gap(30, 2),
                                         data("HTTP/1.1 204 No Content\r\n\r\n", 3)});
    REQUIRE(r.messages.size() == 2);
    CHECK_FALSE(r.messages[0].complete);
    CHECK(r.messages[0].gap);
    CHECK(resp(r, 0).status == 200);
    CHECK(resp(r, 1).status == 204);
    CHECK(r.starts[1].after_loss);
  }
  SECTION("inside chunk data: the message goes on; across a chunk line: broken") {
    const Run r = grind(Kind::Response,
                        {data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n01234"),
                         gap(2), data("789\r\n0\r\n\r\n"),
                         data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"),
                         gap(9), data("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")});
    REQUIRE(r.messages.size() == 3);
    CHECK(r.messages[0].complete);
    CHECK(text(resp(r, 0).body) == "01234");
    CHECK(resp(r, 0).body_size == 10);
    CHECK_FALSE(r.messages[1].complete);
    CHECK(r.messages[1].gap);
    CHECK(r.messages[2].complete);
  }
  SECTION("inside a close-delimited body") {
    const Run r =
        grind(Kind::Response, {data("HTTP/1.1 200 OK\r\n\r\nab"), gap(100), data("yz"), eof(true)});
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].complete);
    CHECK(r.messages[0].gap);
    CHECK(resp(r, 0).body_size == 104);
    CHECK(text(resp(r, 0).body) == "ab");
  }
  SECTION("between messages") {
    const Run r = grind(Kind::Request, {data("GET /1 HTTP/1.1\r\n\r\n"), gap(100),
                                        data("GET /3 HTTP/1.1\r\n\r\n")});
    REQUIRE(r.messages.size() == 2);
    CHECK(r.starts[1].after_loss);
    CHECK(r.stats.resyncs == 1);
    CHECK(r.stats.resync_bytes_skipped == 0);
  }
}

TEST_CASE("parser: gaps wait while a message start waits for begin()", "[http][parser]") {
  HttpStats stats;
  Parser p(Kind::Response, {}, stats);
  const std::vector<std::uint8_t> a{'H', 'T', 'T', 'P', '/', '1',  '.',  '1',  ' ',  '2',
                                    '0', '0', ' ', 'O', 'K', '\r', '\n', '\r', '\n', 'x'};
  p.push(a, 1);
  REQUIRE(p.next() == Event::MessageStart);
  p.gap(10, 2, GapCause::Lost);
  REQUIRE(p.next() == Event::MessageStart);  // still waiting; the gap is queued behind the bytes
  CHECK(p.buffered() == a.size());
  p.begin({});
  REQUIRE(p.next() == Event::HeaderDone);
  CHECK(p.next() == Event::NeedMore);  // close-delimited body: the gap is absorbed
  p.eof(true);
  REQUIRE(p.next() == Event::MessageDone);
  const auto m = p.take();
  CHECK(m.response.body_size == 11);
  CHECK(m.gap);
}

TEST_CASE("parser: timestamps of first and last bytes", "[http][parser]") {
  const Run r =
      run_steps(Kind::Request,
                {data("\r\nPO", 10), data("ST / HTTP/1.1\r\nContent-Le", 20),
                 data("ngth: 3\r\n\r\nab", 30), data("cGET / HT", 40), data("TP/1.1\r\n\r\n", 50)});
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].first_ns == 10);
  CHECK(r.messages[0].last_ns == 40);
  CHECK(r.messages[1].first_ns == 40);
  CHECK(r.messages[1].last_ns == 50);
}

TEST_CASE("parser: stop() counts later bytes and ends a message in progress", "[http][parser]") {
  HttpStats stats;
  Parser p(Kind::Request, {}, stats);
  const std::string s = "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nab";
  const std::vector<std::uint8_t> a(s.begin(), s.end());
  p.push(a, 1);
  REQUIRE(p.next() == Event::MessageStart);
  p.begin({});
  REQUIRE(p.next() == Event::HeaderDone);
  REQUIRE(p.next() == Event::NeedMore);
  p.stop();
  REQUIRE(p.next() == Event::MessageBroken);
  CHECK_FALSE(p.take().complete);
  CHECK(p.finished());
  const std::vector<std::uint8_t> more(5, 'z');
  p.push(more, 2);
  CHECK(p.next() == Event::NeedMore);
  CHECK(stats.bytes_after_upgrade == 5);
}

}  // namespace reprise::capture
