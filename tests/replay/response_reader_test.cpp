#include <catch2/catch.hpp>

#include <string>

#include "reprise/replay/response_reader.hpp"

using namespace reprise;
using replay::ResponseReader;

namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Feeds `wire` split at `at` (and the rest), as two reads.
void feed_split(ResponseReader& r, const std::string& wire, std::size_t at) {
  const std::size_t used = r.feed(bytes(wire.substr(0, at)));
  REQUIRE(used == at);
  if (at < wire.size()) r.feed(bytes(wire.substr(at)));
}

}  // namespace

TEST_CASE("responses at every split point: status, digest, kept body", "[replay][response]") {
  const std::string cl = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello world";
  const std::string chunked =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  const std::uint64_t want = format::body_digest(bytes("hello world"));
  for (const auto* wire : {&cl, &chunked}) {
    for (std::size_t at = 1; at <= wire->size(); ++at) {
      ResponseReader r(false, 4);
      feed_split(r, *wire, at);
      INFO(r.error());
      REQUIRE(r.state() == ResponseReader::State::Done);
      CHECK(r.body_digest() == want);
      CHECK(r.keep_alive());
      CHECK(r.bytes_received() == wire->size());
      CHECK(std::string(r.kept_body().begin(), r.kept_body().end()) == "hell");  // kept up to 4
    }
  }
  ResponseReader r(false, 0);
  r.feed(bytes(chunked));
  CHECK(r.status() == 201);
  CHECK(r.kept_body().empty());
  CHECK(r.kept_headers().empty());
}

TEST_CASE("responses: HEAD, 100 Continue, close-delimited, errors", "[replay][response]") {
  {
    ResponseReader r(true, 0);  // HEAD: Content-Length announces a body that never comes
    r.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"));
    CHECK(r.state() == ResponseReader::State::Done);
  }
  {
    ResponseReader r(false, 64);
    r.feed(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"));
    CHECK(r.state() == ResponseReader::State::Done);
    CHECK(r.status() == 204);
  }
  {
    ResponseReader r(false, 64);
    r.feed(bytes("HTTP/1.0 200 OK\r\n\r\nuntil close"));
    CHECK(r.state() == ResponseReader::State::NeedMore);
    r.eof();
    CHECK(r.state() == ResponseReader::State::Done);
    CHECK_FALSE(r.keep_alive());
    CHECK(r.body_digest() == format::body_digest(bytes("until close")));
  }
  {
    ResponseReader r(false, 64);
    r.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
    r.eof();
    CHECK(r.state() == ResponseReader::State::Error);
  }
  {
    // Closed before any byte (a kept-alive connection the server had closed): no answer, not
    // an empty one.
    ResponseReader r(false, 64);
    r.eof();
    CHECK(r.state() == ResponseReader::State::Error);
    CHECK(r.error() == "connection closed before a response");
  }
  {
    ResponseReader r(false, 64);
    r.feed(bytes("GARBAGE\x01\x02 not http\r\n\r\n"));
    CHECK(r.state() == ResponseReader::State::Error);
  }
  {
    ResponseReader r(false, 64);
    r.feed(bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
    CHECK(r.state() == ResponseReader::State::Done);
    CHECK_FALSE(r.keep_alive());
  }
}

TEST_CASE("responses: which header fields are kept", "[replay][response]") {
  using Headers = ResponseReader::Headers;
  const std::string wire =
      "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nContent-Length: 2\r\nX-Token: t\r\n"
      "Set-Cookie: b=2; Path=/\r\n\r\nok";
  auto names = [&](ResponseReader& r) {
    r.feed(bytes(wire));
    REQUIRE(r.state() == ResponseReader::State::Done);
    std::vector<std::string> out;
    for (const auto& [name, value] : r.kept_headers()) out.push_back(name + "=" + value);
    return out;
  };
  const std::vector<std::string> all = {"set-cookie=a=1", "Content-Length=2", "X-Token=t",
                                        "Set-Cookie=b=2; Path=/"};
  ResponseReader none(false, 0, Headers::None);
  CHECK(names(none).empty());
  ResponseReader cookies(false, 0, Headers::SetCookie);
  CHECK(names(cookies) == std::vector<std::string>{"set-cookie=a=1", "Set-Cookie=b=2; Path=/"});
  ResponseReader every(false, 0, Headers::All);
  CHECK(names(every) == all);
  // A kept body keeps every field, for the run file.
  ResponseReader body(false, 16, Headers::SetCookie);
  CHECK(names(body) == all);
  // The mode is per response: reset() changes it on the same reader.
  cookies.reset(false, 0, Headers::None);
  CHECK(names(cookies).empty());
}
