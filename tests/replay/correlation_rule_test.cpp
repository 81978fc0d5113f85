#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/replay/correlation_rule.hpp"
#include "reprise/replay/error.hpp"

using namespace reprise::replay;

namespace {

// Owned fields: a ResponseView only points into them.
using Fields = std::vector<std::pair<std::string, std::string>>;

ResponseView view(const Fields& headers, std::string_view body) {
  ResponseView v;
  for (const auto& [name, value] : headers) v.headers.emplace_back(name, value);
  v.body = body;
  return v;
}

CorrelationRule rule(std::string_view text) {
  auto r = parse_correlation_rule(text);
  REQUIRE(r);
  return std::move(*r);
}

// What one rule finds in a response, as "place=value" (readable when a CHECK fails).
std::vector<std::string> found(std::string_view rule_text, const Fields& headers, std::string_view body,
                               std::size_t max_values = 256) {
  std::vector<std::string> out;
  for (const auto& f : extract_values({rule(rule_text)}, view(headers, body), max_values)) {
    CHECK(f.rule == 0);
    out.push_back(f.place + "=" + f.value);
  }
  return out;
}

// Candidates as "rule|place|value".
std::vector<std::string> candidates(const Fields& headers, std::string_view body) {
  std::vector<std::string> out;
  for (const auto& c : candidate_values(view(headers, body), TokenShape{}))
    out.push_back(c.rule + "|" + c.place + "|" + c.value);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const std::string kUuid = "550e8400-e29b-41d4-a716-446655440000";
const std::string kUuid2 = "6fa459ea-ee8a-3ca4-894e-db77e160355e";
const std::string kHex32 = "9f86d081884c7d659a2feaa0c55ad015";
const std::string kB64Url = "dGhpcyBpcyBhIHRva2VuXzEyMw-Q";
const std::string kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

}  // namespace

// ---- parsing ----------------------------------------------------------------------------------

TEST_CASE("parse_correlation_rule accepts every kind and keeps the text as the rule's identity",
          "[replay][correlation]") {
  struct Case {
    const char* text;
    ValueSource source;
    const char* name;
  };
  for (const Case& c : {Case{"json:$.access_token", ValueSource::Json, "$.access_token"},
                        Case{"json:$.items[*].id", ValueSource::Json, "$.items[*].id"},
                        Case{"json:$[\"odd key\"][0]", ValueSource::Json, "$[\"odd key\"][0]"},
                        Case{"json:$", ValueSource::Json, "$"},
                        Case{"header:X-Request-Token", ValueSource::Header, "X-Request-Token"},
                        Case{"cookie:sid", ValueSource::SetCookie, "sid"},
                        Case{"html:csrf", ValueSource::Html, "csrf"},
                        Case{"location", ValueSource::Location, ""},
                        Case{"regex:csrf=([a-f0-9]+)", ValueSource::Regex, ""},
                        Case{"regex:a:b;c=d", ValueSource::Regex, ""}}) {
    INFO(c.text);
    const auto r = parse_correlation_rule(c.text);
    REQUIRE(r);
    CHECK(r->source == c.source);
    CHECK(r->name == c.name);
    CHECK(r->text == c.text);
    CHECK_FALSE(r->automatic);
  }
}

TEST_CASE("parse_correlation_rule rejects unknown kinds, bad JSON paths, bad regexes and bad names",
          "[replay][correlation]") {
  for (const char* bad : {"", "access_token", "xml:/a", "Json:$.a", "location:x", "json:", "header:",
                          "json:access_token", "json:$.", "json:$..a", "json:$a", "json:$[]", "json:$[x]",
                          "json:$[-1]", "json:$[\"a\"", "json:$[\"a\"x", "json:$[*", "regex:(", "regex:[a-",
                          "header:X Token", "header:a:b", "header:a;b", "cookie:a=b", "cookie:a\tb", "html:a;b",
                          "html:a:b"}) {
    INFO(bad);
    const auto r = parse_correlation_rule(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == make_error_code(errc::bad_plan));
    CHECK(r.error().message().find("--correlate") != std::string::npos);
  }
}

// ---- extract_values ---------------------------------------------------------------------------

TEST_CASE("extract_values follows JSON paths to concrete places, numbers as written",
          "[replay][correlation]") {
  const std::string body = R"({"access_token":"tok-1","user":{"id":42,"name":"alice","price":1.5},
    "items":[{"id":"a1"},{"id":"b2"},{"id":"c3"},{"id":"d4"}],"odd key":"odd","flag":true,"none":null,
    "empty":""})";
  struct Case {
    const char* rule;
    std::vector<std::string> expected;
  };
  for (const Case& c : {
           Case{"json:$.access_token", {"$.access_token=tok-1"}},
           Case{"json:$.user.id", {"$.user.id=42"}},
           Case{"json:$.user.price", {"$.user.price=1.5"}},
           Case{"json:$.items[*].id", {"$.items[0].id=a1", "$.items[1].id=b2", "$.items[2].id=c3", "$.items[3].id=d4"}},
           Case{"json:$.items[3].id", {"$.items[3].id=d4"}},
           Case{"json:$.items[9].id", {}},
           Case{"json:$[\"odd key\"]", {"$[\"odd key\"]=odd"}},
           Case{"json:$[\"user\"].name", {"$.user.name=alice"}},  // places are written the short way
           Case{"json:$.flag", {}},                                // booleans and null are not values
           Case{"json:$.none", {}},
           Case{"json:$.empty", {}},
           Case{"json:$.user", {}},  // an object is not a leaf
           Case{"json:$.missing", {}},
           Case{"json:$.access_token.deeper", {}},
       }) {
    INFO(c.rule);
    CHECK(found(c.rule, {}, body) == c.expected);
  }
  CHECK(found("json:$[1].id", {}, R"([{"id":"x0"},{"id":"x1"}])") == std::vector<std::string>{"$[1].id=x1"});
  CHECK(found("json:$.a", {}, "<html>{\"a\":\"b\"}</html>").empty());  // not a JSON body
  CHECK(found("json:$.a", {}, R"({"a":"cut)").empty());               // a body cut short
}

TEST_CASE("extract_values numbers the fields of one name case-insensitively as #0, #1",
          "[replay][correlation]") {
  const Fields headers = {{"X-Request-Token", "  t1 "}, {"Content-Type", "application/json"},
                          {"x-request-token", "t2"}, {"X-REQUEST-TOKEN", ""}, {"X-Request-Token", "t4"}};
  // The empty one is not a value but keeps its number, so places match the n-th field.
  CHECK(found("header:x-request-token", headers, "") == std::vector<std::string>{"#0=t1", "#1=t2", "#3=t4"});
  CHECK(found("header:X-Missing", headers, "").empty());
}

TEST_CASE("extract_values reads the name=value of Set-Cookie and ignores its attributes",
          "[replay][correlation]") {
  const Fields headers = {{"Set-Cookie", "sid=abc123; Path=/; HttpOnly"},
                          {"set-cookie", "other=zzz"},
                          {"Set-Cookie", " sid = def456 ; Max-Age=60"},
                          {"X-Cookie", "sid=nope"}};
  CHECK(found("cookie:sid", headers, "") == std::vector<std::string>{"#0=abc123", "#1=def456"});
  CHECK(found("cookie:Path", headers, "").empty());
  CHECK(found("cookie:Max-Age", headers, "").empty());
  CHECK(found("cookie:SID", headers, "").empty());  // cookie names are case-sensitive
}

TEST_CASE("extract_values reads hidden inputs in every quoting and meta tags", "[replay][correlation]") {
  const std::string body =
      "<form><input type=\"hidden\" name=\"csrf\" value=\"q1w2e3r4t5\">\n"
      "<input type='hidden' name='nonce' value='n0nce-123'>\n"
      "<input type=hidden name=plain value=unq123 >\n"
      "<INPUT TYPE=\"text\" NAME=\"user\" VALUE=\"alice\"/>\n"
      "<meta name=\"csrf-token\" content=\"m3ta-t0ken\">\n"
      "<meta name=csrf-token content=second>\n"
      "<input type=\"hidden\" name=\"csrf\" value=\"\"></form>";
  CHECK(found("html:csrf", {}, body) == std::vector<std::string>{"#0=q1w2e3r4t5"});
  CHECK(found("html:nonce", {}, body) == std::vector<std::string>{"#0=n0nce-123"});
  CHECK(found("html:plain", {}, body) == std::vector<std::string>{"#0=unq123"});
  CHECK(found("html:user", {}, body) == std::vector<std::string>{"#0=alice"});  // named rules take any input
  CHECK(found("html:csrf-token", {}, body) == std::vector<std::string>{"#0=m3ta-t0ken", "#1=second"});
  CHECK(found("html:missing", {}, body).empty());
}

TEST_CASE("extract_values keeps a slash inside an unquoted HTML attribute value", "[replay][correlation]") {
  // Base64 tokens hold '/'; HTML ends an unquoted value only at whitespace or '>'.
  CHECK(found("html:b64", {}, "<input type=hidden name=b64 value=ab/cd+ef==>") ==
        std::vector<std::string>{"#0=ab/cd+ef=="});
}

TEST_CASE("extract_values splits absolute and relative Location URLs into seg:N and query:NAME",
          "[replay][correlation]") {
  CHECK(found("location", {{"Location", "https://shop.test/orders/8f14e45f/items?page=2&session=s3ss10n#frag"}}, "") ==
        std::vector<std::string>{"seg:0=orders", "seg:1=8f14e45f", "seg:2=items", "query:page=2",
                                 "query:session=s3ss10n"});
  CHECK(found("location", {{"location", " /orders/123?id=9&empty=&flag "}}, "") ==
        std::vector<std::string>{"seg:0=orders", "seg:1=123", "query:id=9"});
  CHECK(found("location", {{"Location", "http://shop.test:8080"}}, "").empty());
  CHECK(found("location", {{"X-Location", "/a"}}, "").empty());
}

TEST_CASE("extract_values does not take a URL inside a relative Location's query for the Location itself",
          "[replay][correlation]") {
  CHECK(found("location", {{"Location", "/login?next=https://a.example/b"}}, "") ==
        std::vector<std::string>{"seg:0=login", "query:next=https://a.example/b"});
  // An absolute URL with an empty path still has a query.
  CHECK(found("location", {{"Location", "https://shop.test?code=abc123"}}, "") ==
        std::vector<std::string>{"query:code=abc123"});
}

TEST_CASE("extract_values takes regex group 1, or the whole match, in header lines and the body",
          "[replay][correlation]") {
  const Fields headers = {{"X-Info", "csrf=abc123"}, {"X-Other", "nothing"}};
  CHECK(found("regex:csrf=([a-f0-9]+)", headers, "<p>csrf=def456 and csrf=XYZ</p>") ==
        std::vector<std::string>{"h#0=abc123", "b#1=def456"});
  CHECK(found("regex:tok_[A-Za-z0-9]+", {}, "a tok_X1 b tok_Y2") == std::vector<std::string>{"b#0=tok_X1", "b#1=tok_Y2"});
  // A header line is matched as "Name: value".
  CHECK(found("regex:^X-Trace: (.+)$", {{"X-Trace", "t-77"}}, "X-Trace: not-a-header") ==
        std::vector<std::string>{"h#0=t-77", "b#1=not-a-header"});
}

TEST_CASE("extract_values stops at max_values and tags each value with its rule's index",
          "[replay][correlation]") {
  const std::string body = R"({"items":[{"id":"a1"},{"id":"b2"},{"id":"c3"}]})";
  CHECK(found("json:$.items[*].id", {}, body, 2) == std::vector<std::string>{"$.items[0].id=a1", "$.items[1].id=b2"});
  CHECK(found("json:$.items[*].id", {}, body, 0).empty());

  const auto values = extract_values({rule("header:X-A"), rule("json:$.items[2].id")}, view({{"X-A", "va"}}, body));
  REQUIRE(values.size() == 2);
  CHECK(values[0].rule == 0);
  CHECK(values[0].value == "va");
  CHECK(values[1].rule == 1);
  CHECK(values[1].place == "$.items[2].id");
}

TEST_CASE("extract_values and candidate_values read nothing past a response cut at any byte",
          "[replay][correlation]") {
  const std::vector<CorrelationRule> rules = {
      rule("json:$.a.b[*].id"), rule("json:$[\"k\\\"q\"]"), rule("html:csrf"), rule("html:m"),
      rule("regex:csrf=([a-f0-9]+)"), rule("location"), rule("cookie:sid"), rule("header:X-T")};
  for (const std::string_view text :
       {std::string_view(R"({"a":{"b":[{"id":"x1"},{"id":"y2"}]},"k\"q":"v"})"),
        std::string_view("<input type='hidden' name=csrf value=\"abc123\"><meta name=m content=z"),
        std::string_view("https://h.test/a/b?x=1&y=2#f"), std::string_view("sid=abc; Path=/")}) {
    for (std::size_t n = 0; n <= text.size(); ++n) {
      // A buffer of exactly n bytes: AddressSanitizer catches a read one past its end.
      const std::vector<char> exact(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(n));
      const std::string_view cut(exact.data(), n);
      ResponseView v;
      v.headers = {{"Location", cut}, {"Set-Cookie", cut}, {"X-T", cut}};
      v.body = cut;
      CHECK(extract_values(rules, v).size() <= 256);
      CHECK(candidate_values(v, TokenShape{}).size() <= 256);
    }
  }
}

// ---- token shape ------------------------------------------------------------------------------

TEST_CASE("looks_like_token takes UUIDs, hex, base64url tokens and JWTs", "[replay][correlation]") {
  for (const std::string& v : {kUuid, kHex32, kB64Url, kJwt, std::string("abcdefghijklmnopq")}) {
    INFO(v);
    CHECK(looks_like_token(v));
  }
}

TEST_CASE("looks_like_token refuses words, flags, numbers, timestamps, text with spaces and short values",
          "[replay][correlation]") {
  for (const char* v : {"", "true", "1", "OK", "application/json; charset=utf-8", "1732406400", "1732406400123",
                        "password", "a1b2c3", "abc 123def456", "tok\x01en123456", "aaaaaaaa1111", "2024-11-24"}) {
    INFO(v);
    CHECK_FALSE(looks_like_token(v));
  }
  CHECK(looks_like_token("ab12", TokenShape{4, 1.0}));  // the shape is the caller's
  CHECK_FALSE(looks_like_token(kHex32, TokenShape{64, 2.5}));
}

TEST_CASE("shannon_entropy is in bits per byte", "[replay][correlation]") {
  CHECK(shannon_entropy("") == 0);
  CHECK(shannon_entropy("aaaa") == Approx(0));
  CHECK(shannon_entropy("ab") == Approx(1));
  CHECK(shannon_entropy("abcd") == Approx(2));
  CHECK(shannon_entropy("0123456789abcdef") == Approx(4));
}

// ---- candidates -------------------------------------------------------------------------------

TEST_CASE("candidate_values picks token-like JSON strings with a generalised rule and a concrete place",
          "[replay][correlation]") {
  const std::string body = "{\"data\":{\"items\":[{\"id\":\"" + kUuid + "\",\"n\":\"1\"},{\"id\":\"" + kUuid2 +
                           "\"}],\"access_token\":\"" + kJwt +
                           "\",\"status\":\"active\",\"count\":123456789012345678}}";
  const auto c = candidates({{"Content-Type", "application/json"}}, body);
  CHECK(c.size() == 3);
  CHECK(contains(c, "json:$.data.items[*].id|$.data.items[0].id|" + kUuid));
  CHECK(contains(c, "json:$.data.items[*].id|$.data.items[1].id|" + kUuid2));
  CHECK(contains(c, "json:$.data.access_token|$.data.access_token|" + kJwt));
}

TEST_CASE("candidate_values watches Set-Cookie, Location and other fields but not framing or description fields",
          "[replay][correlation]") {
  const Fields headers = {{"Date", "Sun, 24 Nov 2024 00:00:00 GMT"},
                          {"Content-Type", "application/json"},
                          {"Server", "nginx/1.25.3"},
                          {"Cache-Control", "private, max-age=0"},
                          {"Access-Control-Allow-Origin", "https://app1.shop.test"},
                          {"X-Powered-By", "Express4.18.2"},
                          {"ETag", "\"" + kHex32 + "\""},  // not ignored on purpose: If-None-Match reuses it
                          {"X-Request-Id", kUuid},
                          {"X-Request-Id", kUuid2},
                          {"Set-Cookie", "sessionid=" + kHex32 + "; Path=/; HttpOnly"},
                          {"Set-Cookie", "theme=dark"},
                          {"Location", "/orders/" + kHex32 + "?ref=" + kB64Url}};
  const auto c = candidates(headers, "");
  CHECK(c == std::vector<std::string>{"header:ETag|#0|\"" + kHex32 + "\"", "header:X-Request-Id|#0|" + kUuid,
                                      "header:X-Request-Id|#1|" + kUuid2, "cookie:sessionid|#0|" + kHex32,
                                      "location|seg:1|" + kHex32, "location|query:ref|" + kB64Url});
}

TEST_CASE("candidate_values takes hidden inputs and meta tags, not visible inputs", "[replay][correlation]") {
  const std::string body = "<html><input type=\"text\" name=\"csrf\" value=\"" + kUuid2 + "\">" +
                           "<input type=\"hidden\" name=\"csrf\" value=\"" + kHex32 + "\">" +
                           "<input type=\"text\" name=\"coupon\" value=\"SAVE2024abcd1234\">" +
                           "<meta name=\"csrf-token\" content=\"" + kB64Url + "\"></html>";
  // The visible input keeps its number: html:csrf #1 is the hidden one, as extract_values counts.
  CHECK(candidates({}, body) ==
        std::vector<std::string>{"html:csrf|#1|" + kHex32, "html:csrf-token|#0|" + kB64Url});
  CHECK(found("html:csrf", {}, body).at(1) == "#1=" + kHex32);
  CHECK(candidate_values(view({}, body), TokenShape{}, 1).size() == 1);
}

TEST_CASE("candidate_values numbers header places as extract_values does whatever the name's case",
          "[replay][correlation]") {
  const Fields headers = {{"X-Token", kUuid}, {"x-token", kUuid2}};
  for (const auto& c : candidate_values(view(headers, ""), TokenShape{})) {
    INFO(c.rule << " " << c.place);
    CHECK(contains(found(c.rule, headers, ""), c.place + "=" + c.value));
  }
}

TEST_CASE("percent_encode escapes every byte outside the unreserved set", "[replay][correlation]") {
  CHECK(percent_encode("a+b/c=") == "a%2Bb%2Fc%3D");
  CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encode("a b&c?d#e%") == "a%20b%26c%3Fd%23e%25");
  CHECK(percent_encode("\xc3\xa9") == "%C3%A9");
  CHECK(percent_encode("").empty());
}
