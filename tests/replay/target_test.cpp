#include <catch2/catch.hpp>

#include "reprise/replay/target.hpp"

using namespace reprise;
using namespace reprise::replay;
namespace fb = format::fb;

namespace {

std::string wire_of(fb::RequestT r, const Target& t, const Rewrites& w = {}) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::Request::Pack(fbb, &r));
  return request_wire(*flatbuffers::GetRoot<fb::Request>(fbb.GetBufferPointer()), t, w);
}

void add(fb::RequestT& r, std::string name, std::string value) {
  auto h = std::make_unique<fb::HeaderT>();
  h->name = std::move(name);
  h->value = std::move(value);
  r.headers.push_back(std::move(h));
}

}  // namespace

TEST_CASE("targets: http host and port, nothing else", "[replay][target]") {
  auto t = Target::parse("http://127.0.0.1:8080");
  REQUIRE(t);
  CHECK(t->host == "127.0.0.1");
  CHECK(t->port == 8080);
  CHECK(t->authority == "127.0.0.1:8080");
  CHECK(Target::parse("http://example.test/")->port == 80);
  CHECK(Target::parse("http://example.test/")->authority == "example.test");
  auto v6 = Target::parse("http://[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->authority == "[::1]:9000");
  CHECK_FALSE(Target::parse("https://example.test"));
  CHECK_FALSE(Target::parse("example.test:80"));
  CHECK_FALSE(Target::parse("http://example.test/api"));
  CHECK_FALSE(Target::parse("http://example.test:0"));
  CHECK_FALSE(Target::parse("http://example.test:99999"));
  CHECK_FALSE(Target::parse("http://:80"));
  CHECK(Target::parse("ftp://x").error().detail.find("http://host[:port]") != std::string::npos);
}

TEST_CASE("request wire: recorded fields kept, hop-by-hop dropped, length set", "[replay][target]") {
  const Target t = *Target::parse("http://10.0.0.1:81");
  fb::RequestT r;
  r.method = "POST";
  r.target = "/api/items?x=1";
  add(r, "Host", "shop.example");
  add(r, "X-Trace", "a");
  add(r, "Connection", "keep-alive, X-Hop");
  add(r, "X-Hop", "dropped");
  add(r, "Transfer-Encoding", "chunked");
  add(r, "Content-Length", "999");
  add(r, "x-trace", "b");
  r.body = {'h', 'e', 'l', 'l', 'o'};
  CHECK(wire_of(std::move(r), t) ==
        "POST /api/items?x=1 HTTP/1.1\r\nHost: shop.example\r\nX-Trace: a\r\nx-trace: b\r\n"
        "Content-Length: 5\r\n\r\nhello");

  fb::RequestT g;
  g.method = "GET";
  g.target = "/";
  g.version = 10;
  CHECK(wire_of(std::move(g), t) == "GET / HTTP/1.1\r\nHost: 10.0.0.1:81\r\n\r\n");

  fb::RequestT empty_post;
  empty_post.method = "PUT";
  empty_post.target = "/x";
  CHECK(wire_of(std::move(empty_post), t) ==
        "PUT /x HTTP/1.1\r\nHost: 10.0.0.1:81\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("request wire with rewrites: path, dropped, set and target Host headers", "[replay][target]") {
  const auto t = *Target::parse("http://127.0.0.1:8080");
  fb::RequestT r;
  r.method = "GET";
  r.target = "/api/v1/users/7?x=1";
  add(r, "Host", "shop.example");
  add(r, "Cookie", "s=1");
  add(r, "X-Trace", "a");
  add(r, "x-trace", "b");
  add(r, "Accept", "*/*");
  Rewrites w;
  w.paths.push_back(*parse_path_rewrite("^/api/v1/=>/api/v2/"));
  w.paths.push_back(*parse_path_rewrite("users/([0-9]+)=>people/$1"));
  w.drop_headers.push_back("cookie");
  w.set_headers.push_back(*parse_set_header("X-Trace:  replay "));
  w.host_header = HostHeader::Target;
  CHECK(wire_of(std::move(r), t, w) ==
        "GET /api/v2/people/7?x=1 HTTP/1.1\r\nAccept: */*\r\nX-Trace: replay\r\nHost: 127.0.0.1:8080\r\n\r\n");

  // --set-header Host wins over both the recorded and the target's.
  fb::RequestT h;
  h.method = "GET";
  h.target = "/";
  add(h, "Host", "shop.example");
  Rewrites host;
  host.set_headers.push_back(*parse_set_header("Host: other.example"));
  CHECK(wire_of(std::move(h), t, host) == "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n");
}
