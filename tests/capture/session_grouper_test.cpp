#include <catch2/catch.hpp>

#include "reprise/capture/session_grouper.hpp"

using namespace reprise::capture;

namespace {

HttpExchange exchange(std::uint64_t connection, HttpHeaders request_headers,
                      HttpHeaders response_headers = {}) {
  HttpExchange x;
  x.connection_id = connection;
  x.request.method = "GET";
  x.request.target = "/";
  x.request.headers = std::move(request_headers);
  x.response.status = 200;
  x.response.headers = std::move(response_headers);
  return x;
}

}  // namespace

TEST_CASE("sessions: a login whose response sets a cookie joins the session that sends it",
          "[capture][session]") {
  SessionGrouper g;
  // Connection 1: the login, answered with a session cookie.
  const auto login = g.assign(exchange(1, {{"Host", "a"}}, {{"Set-Cookie", "sid=ab12cd34ef56; Path=/; HttpOnly"}}));
  // Connection 2 (a new connection of the same browser) sends the cookie.
  const auto later = g.assign(exchange(2, {{"Cookie", "theme=dark; sid=ab12cd34ef56"}}));
  CHECK(login == later);
  // Connection 3 is somebody else.
  const auto other = g.assign(exchange(3, {{"Cookie", "theme=dark"}}));
  CHECK(other != login);
  CHECK(g.stats().sessions == 2);
}

TEST_CASE("sessions: setting-like cookies never link strangers", "[capture][session]") {
  SessionGrouper g;
  const auto a = g.assign(exchange(1, {{"Cookie", "theme=dark; lang=en"}}));
  const auto b = g.assign(exchange(2, {{"Cookie", "theme=dark; lang=en"}}));
  CHECK(a != b);
  CHECK(SessionGrouper::identifier_like("ab12cd34"));
  CHECK_FALSE(SessionGrouper::identifier_like("darkmode"));
  CHECK_FALSE(SessionGrouper::identifier_like("12345678"));
  CHECK_FALSE(SessionGrouper::identifier_like("a1"));
}

TEST_CASE("sessions: one connection is one session unless its cookies say otherwise",
          "[capture][session]") {
  SessionGrouper g;
  const auto u1 = g.assign(exchange(1, {{"Authorization", "Bearer tok3n0001xyz"}}));
  const auto u2 = g.assign(exchange(2, {{"Authorization", "Bearer tok3n0002xyz"}}));
  CHECK(u1 != u2);
  // A shared connection (a proxy's keep-alive) carrying u2's token belongs to u2.
  CHECK(g.assign(exchange(1, {{"Authorization", "Bearer tok3n0002xyz"}})) == u2);
  // Unmarked requests on connection 5 stay together.
  const auto c5 = g.assign(exchange(5, {}));
  CHECK(g.assign(exchange(5, {})) == c5);
  CHECK(c5 != u1);
}

TEST_CASE("sessions: the overrides", "[capture][session]") {
  SECTION("cookie:NAME") {
    auto o = parse_session_key("cookie:uid");
    REQUIRE(o.ok());
    SessionGrouper g(*o);
    const auto a = g.assign(exchange(1, {{"Cookie", "uid=1"}}));
    CHECK(g.assign(exchange(2, {{"Cookie", "uid=1"}})) == a);  // short values count here: asked for
    CHECK(g.assign(exchange(3, {{"Cookie", "uid=2"}})) != a);
  }
  SECTION("header:NAME") {
    auto o = parse_session_key("header:X-User");
    REQUIRE(o.ok());
    SessionGrouper g(*o);
    const auto a = g.assign(exchange(1, {{"x-user", "alice"}}));
    CHECK(g.assign(exchange(9, {{"X-User", "alice"}})) == a);
  }
  SECTION("client-ip") {
    auto o = parse_session_key("client-ip");
    REQUIRE(o.ok());
    SessionGrouper g(*o);
    auto x = exchange(1, {});
    x.client.family = 4;
    x.client.address[15] = 7;
    const auto a = g.assign(x);
    x.connection_id = 2;
    CHECK(g.assign(x) == a);
  }
  SECTION("bad keys are refused with the flag named") {
    auto o = parse_session_key("cookie:");
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().message().find("--session-key") != std::string::npos);
    CHECK_FALSE(parse_session_key("ip").ok());
  }
}

TEST_CASE("sessions: memory is bounded and forgetting is counted", "[capture][session]") {
  SessionOptions o;
  o.max_marks = 10;
  SessionGrouper g(o);
  for (std::uint64_t c = 1; c <= 100; ++c) g.assign(exchange(c, {}));
  CHECK(g.stats().marks_forgotten == 90);
  CHECK(g.stats().sessions == 100);
}
