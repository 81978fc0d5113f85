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
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Keep: yes\r\nConnection: keep-alive\r\n\r\n";
  for (std::size_t at = 0; at <= wire.size(); ++at) {
    INFO("split at " << at);
    MessageRelay r(true, 4096, 1 << 20);
    r.connection = MessageRelay::Connection::KeepAlive;
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

TEST_CASE("message relay: two Host fields, or a trailer that would reroute or reframe, are errors",
          "[capture][proxy][relay]") {
  // Found by fuzzing (tests/fuzz/corpus/message_relay/host-in-trailers): both were forwarded, so
  // a next hop could route by another Host than ours, or merge a trailer Host into the header.
  const auto feed_all = [](const std::string& wire, std::string& out) {
    MessageRelay r(true, 4096, 1024);
    r.feed({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()}, out);
    return std::make_pair(r.state(), r.error());
  };
  std::string out;
  auto [state, error] = feed_all("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", out);
  CHECK(state == MessageRelay::State::Error);
  CHECK(error.find("Host") != std::string::npos);
  CHECK(out.empty());  // nothing forwarded
  for (const char* field : {"Host: evil", "Content-Length: 5", "Transfer-Encoding: chunked", "TE: trailers",
                            "Connection: close"}) {
    INFO(field);
    out.clear();
    std::tie(state, error) = feed_all(std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                  "1\r\nx\r\n0\r\n") + field + "\r\n\r\n", out);
    CHECK(state == MessageRelay::State::Error);
    // Beast itself refuses Content-Length and Transfer-Encoding there; the relay the rest.
    if (std::string_view(field).rfind("Content-Length", 0) != 0 &&
        std::string_view(field).rfind("Transfer-Encoding", 0) != 0)
      CHECK(error.find("trailer") != std::string::npos);
  }
  // An ordinary trailer goes through.
  out.clear();
  std::tie(state, error) = feed_all("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "1\r\nx\r\n0\r\nX-Checksum: 1\r\n\r\n", out);
  CHECK(state == MessageRelay::State::Done);
  CHECK(out.find("X-Checksum: 1") != std::string::npos);
}

TEST_CASE("message relay: a status under 100 goes out with its three digits", "[capture][proxy][relay]") {
  // Found by fuzzing (tests/fuzz/corpus/message_relay/status-000): Beast reads "000" to "099"
  // from an upstream, and the status went out as "0", a status line no client parses.
  for (const char* status : {"000", "042", "200", "999"}) {
    INFO(status);
    MessageRelay r(false, 4096, 1024);
    const std::string wire = std::string("HTTP/1.1 ") + status + " X\r\nContent-Length: 0\r\n\r\n";
    const Result out = feed_split(r, wire, wire.size());
    REQUIRE(out.state == MessageRelay::State::Done);
    CHECK(out.forwarded.rfind(std::string("HTTP/1.1 ") + status + " X\r\n", 0) == 0);
  }
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

TEST_CASE("message relay: upgrade, CONNECT and Expect are reported, and a HEAD answer has no body",
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
  // RFC 9110 10.1.1: ignored in an HTTP/1.0 request.
  CHECK(!request("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")->expects_continue());

  MessageRelay answer(false, 4096, 1024);
  answer.reset(true);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  std::string out;
  answer.feed({reinterpret_cast<const std::uint8_t*>(head.data()), head.size()}, out);
  CHECK(answer.state() == MessageRelay::State::Done);
}

namespace {

// `wire` fed whole to a fresh relay (`request` or response, `connection` set first): what it forwards.
std::pair<MessageRelay::State, std::string> forwarded(
    bool request, const std::string& wire, MessageRelay::Connection connection = MessageRelay::Connection::None) {
  MessageRelay r(request, 4096, 1024);
  r.connection = connection;
  std::string out;
  r.feed({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()}, out);
  return {r.state(), out};
}

}  // namespace

TEST_CASE("message relay: a request framed by anything but a final chunked is an error",
          "[capture][proxy][relay]") {
  // RFC 9112 6.3: the next hop could frame it otherwise (request smuggling).
  for (const std::string framing : {"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
                                    "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n",
                                    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                                    "Transfer-Encoding: chunked, gzip\r\n", "Transfer-Encoding: gzip\r\n",
                                    "Transfer-Encoding: chunked, chunked\r\n", "Transfer-Encoding:\r\n"}) {
    INFO(framing);
    const auto [state, out] =
        forwarded(true, "POST /x HTTP/1.1\r\nHost: a\r\n" + framing + "\r\n5\r\nhello\r\n0\r\n\r\n");
    CHECK(state == MessageRelay::State::Error);
    CHECK(out.empty());
  }
  // Codings over several fields, chunked last: one list (RFC 9110 5.3).
  CHECK(forwarded(true, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\n\r\n").first == MessageRelay::State::Done);
}

TEST_CASE("message relay: Expect 100-continue is not forwarded", "[capture][proxy][relay]") {
  CHECK(forwarded(true, "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n").second ==
        "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
}

TEST_CASE("message relay: the Connection field forwarded is the relay's, close when the sender closes",
          "[capture][proxy][relay]") {
  using C = MessageRelay::Connection;
  const std::string kept = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const std::string closing = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  const std::string to_close = "HTTP/1.0 200 OK\r\n\r\n";  // its body ends at the close
  CHECK(forwarded(false, kept).second == kept);
  CHECK(forwarded(false, kept, C::KeepAlive).second ==
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(forwarded(false, kept, C::Close).second == closing);
  CHECK(forwarded(false, closing, C::KeepAlive).second == closing);
  CHECK(forwarded(false, to_close, C::KeepAlive).second == "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n");
  CHECK(forwarded(false, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", C::Close).second ==
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
  // HTTP/1.0's default is close: a kept connection is said to be kept.
  CHECK(forwarded(false, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n").second ==
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  // A request's own close is not the relay's business: the connection it goes out on is another.
  CHECK(forwarded(true, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").second ==
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(forwarded(true, "GET / HTTP/1.0\r\nHost: a\r\n\r\n").second ==
        "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
}
