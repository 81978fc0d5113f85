#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/replay/value_detector.hpp"

using namespace reprise::replay;

namespace {

constexpr std::int64_t kMs = 1'000'000;

const std::string kToken =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTczMjQwNjQwMH0.Zm9vYmFyYmF6cXV4MTIzNDU2";
const std::string kCsrf = "9f86d081884c7d659a2feaa0c55ad015";
const std::string kSession = "s3ss10n-7f0c2a9e1b4d";

// A request wire: the request line, Host, `fields`, and `body` with its Content-Length.
std::string request(std::string_view line, const std::vector<std::string>& fields, std::string_view body = {}) {
  std::string w = std::string(line) + " HTTP/1.1\r\nHost: shop.test\r\n";
  for (const auto& f : fields) w += f + "\r\n";
  if (!body.empty()) w += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  w += "\r\n";
  w += body;
  return w;
}

// A recorded response that owns what its ResponseView points into.
struct Response {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  ResponseView view() const {
    ResponseView v;
    for (const auto& [n, value] : headers) v.headers.emplace_back(n, value);
    v.body = body;
    return v;
  }
};

Response json(const std::string& body) { return {{{"Content-Type", "application/json"}}, body}; }

// Feeds exchanges to a detector: each response ends 10 ms after its request started.
struct Trace {
  ValueDetector detector{TokenShape{}, 100, 256};
  void add(std::uint64_t session, std::int64_t at_ms, const std::string& wire, const Response* response = nullptr) {
    const ResponseView v = response != nullptr ? response->view() : ResponseView{};
    detector.observe(session, at_ms * kMs, wire, response != nullptr ? &v : nullptr, (at_ms + 10) * kMs);
  }
  std::vector<std::string> rules() const {
    std::vector<std::string> out;
    for (const auto& r : detector.rules()) out.push_back(r.rule + " x" + std::to_string(r.uses));
    return out;
  }
};

}  // namespace

TEST_CASE("a login token later sent as a bearer token becomes a json rule with its use count",
          "[replay][correlation][detect]") {
  Trace t;
  const Response login = json(R"({"access_token":")" + kToken + R"(","token_type":"Bearer","expires_in":"3600"})");
  t.add(1, 0, request("POST /login", {"Content-Type: application/json"}, R"({"user":"alice"})"), &login);
  const Response ok = json(R"({"ok":"true"})");
  t.add(1, 100, request("GET /me", {"Authorization: Bearer " + kToken}), &ok);
  t.add(1, 200, request("GET /orders", {"Authorization: Bearer " + kToken}));
  t.add(1, 300, request("GET /public", {}));

  CHECK(t.rules() == std::vector<std::string>{"json:$.access_token x2"});
  const auto rules = t.detector.rules();
  REQUIRE(rules.size() == 1);
  CHECK(rules[0].example == kToken.substr(0, 40));
  CHECK(t.detector.exchanges() == 4);
  CHECK(t.detector.rules_dropped() == 0);
}

TEST_CASE("a request that started before the response ended does not use its values",
          "[replay][correlation][detect]") {
  Trace t;
  const Response login = json(R"({"access_token":")" + kToken + R"("})");
  t.add(1, 0, request("POST /login", {}, "user=alice"), &login);  // ends at 10 ms
  t.add(1, 5, request("GET /early", {"Authorization: Bearer " + kToken}));
  CHECK(t.rules().empty());
  t.add(1, 11, request("GET /late", {"Authorization: Bearer " + kToken}));
  CHECK(t.rules() == std::vector<std::string>{"json:$.access_token x1"});
}

TEST_CASE("sessions are separate: another session carrying the same value is not a use",
          "[replay][correlation][detect]") {
  Trace t;
  const Response login = json(R"({"access_token":")" + kToken + R"("})");
  t.add(1, 0, request("POST /login", {}, "user=alice"), &login);
  t.add(2, 100, request("GET /me", {"Authorization: Bearer " + kToken}));
  t.add(3, 200, request("GET /me", {"Authorization: Bearer " + kToken}));
  CHECK(t.rules().empty());
}

TEST_CASE("a Set-Cookie value sent back only in Cookie is the jar's, in any other field it is a cookie rule",
          "[replay][correlation][detect]") {
  Trace t;
  const Response login{{{"Set-Cookie", "csrftoken=" + kCsrf + "; Path=/"},
                        {"Set-Cookie", "sessionid=" + kSession + "; Path=/; HttpOnly"}},
                       "welcome"};
  t.add(1, 0, request("POST /login", {}, "user=alice"), &login);
  t.add(1, 100, request("GET /account", {"Cookie: csrftoken=" + kCsrf + "; sessionid=" + kSession}));
  t.add(1, 200, request("GET /cart", {"cookie: sessionid=" + kSession}));
  CHECK(t.rules().empty());

  t.add(1, 300, request("POST /cart", {"Cookie: csrftoken=" + kCsrf + "; sessionid=" + kSession,
                                       "X-CSRFToken: " + kCsrf}));
  t.add(1, 400, request("POST /form", {"Cookie: csrftoken=" + kCsrf}, "csrfmiddlewaretoken=" + kCsrf + "&qty=1"));
  CHECK(t.rules() == std::vector<std::string>{"cookie:csrftoken x2"});
}

TEST_CASE("low-entropy values never become rules", "[replay][correlation][detect]") {
  Trace t;
  const Response r = json(R"({"ok":"true","id":"1","ts":"1732406400","word":"password","state":"OK",)"
                          R"("type":"application/json; charset=utf-8","short":"ab12"})");
  t.add(1, 0, request("GET /status", {}), &r);
  t.add(1, 100, request("POST /echo?ok=true&id=1&ts=1732406400&state=OK&short=ab12",
                        {"Accept: application/json; charset=utf-8"}, "word=password"));
  CHECK(t.rules().empty());
}

TEST_CASE("a value sent percent-encoded in a query counts as a use", "[replay][correlation][detect]") {
  Trace t;
  const std::string token = "ab+cd/ef=gh12345678XYz";
  const Response r = json(R"({"token":")" + token + R"("})");
  t.add(1, 0, request("POST /session", {}, "user=alice"), &r);
  t.add(1, 100, request("GET /download?t=" + percent_encode(token) + "&x=1", {}));
  CHECK(percent_encode(token) == "ab%2Bcd%2Fef%3Dgh12345678XYz");
  CHECK(t.rules() == std::vector<std::string>{"json:$.token x1"});
}

TEST_CASE("list elements are found under a generalised [*] rule and a request counts once per rule",
          "[replay][correlation][detect]") {
  Trace t;
  const std::string a = "550e8400-e29b-41d4-a716-446655440000", b = "6fa459ea-ee8a-3ca4-894e-db77e160355e";
  const Response r = json(R"({"items":[{"id":")" + a + R"("},{"id":")" + b + R"("}]})");
  t.add(1, 0, request("GET /items", {}), &r);
  t.add(1, 100, request("GET /items/" + b + "?also=" + a + "&again=" + b, {}));
  CHECK(t.rules() == std::vector<std::string>{"json:$.items[*].id x1"});
}

TEST_CASE("rules() lists used rules only, most used first", "[replay][correlation][detect]") {
  Trace t;
  const std::string a = "aaaa1111bbbb2222cccc3333", b = "Zq9Xw8Yv7Ut6Sr5Qp4On3Ml2", c = "unused0123456789abcdefgh";
  const Response r = json(R"({"a":")" + a + R"(","b":")" + b + R"(","c":")" + c + R"("})");
  t.add(1, 0, request("GET /bootstrap", {}), &r);
  t.add(1, 100, request("GET /x?a=" + a, {}));
  for (int i = 0; i < 3; ++i) t.add(1, 200 + i, request("GET /y", {"X-B: " + b}));
  CHECK(t.rules() == std::vector<std::string>{"json:$.b x3", "json:$.a x1"});
}

TEST_CASE("a header value handed out and sent back becomes a header rule", "[replay][correlation][detect]") {
  Trace t;
  const Response r{{{"Date", "Sun, 24 Nov 2024 00:00:00 GMT"}, {"X-Request-Token", kCsrf}}, ""};
  t.add(1, 0, request("GET /form", {}), &r);
  t.add(1, 100, request("POST /form", {"X-Request-Token: " + kCsrf}, "a=1"));
  CHECK(t.rules() == std::vector<std::string>{"header:X-Request-Token x1"});
}
