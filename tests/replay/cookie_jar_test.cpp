#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "reprise/replay/cookie_jar.hpp"

using namespace reprise::replay;

namespace {

constexpr std::int64_t s(std::int64_t seconds) { return seconds * 1'000'000'000; }

// 2020-09-13 12:26:40 UTC: the replay clock for most tests.
constexpr std::int64_t kNow = s(1'600'000'000);
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kLongAgo = std::numeric_limits<std::int64_t>::min();

const Cookie* find(const CookieJar& jar, std::string_view name) {
  for (const auto& c : jar.cookies())
    if (c.name == name) return &c;
  return nullptr;
}

// Text copied into a heap block of exactly its size: under AddressSanitizer a read one byte
// past the end is caught, which a std::string (with its terminator and spare capacity) hides.
class Exact {
 public:
  explicit Exact(std::string_view text) : bytes_(new char[text.size()]), size_(text.size()) {
    if (size_ > 0) std::memcpy(bytes_.get(), text.data(), size_);
  }
  std::string_view view() const { return {bytes_.get(), size_}; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_;
};

}  // namespace

// --- RFC 6265 5.1.1: dates ----------------------------------------------------------------

TEST_CASE("parse_cookie_date reads the three HTTP date formats", "[replay][cookies]") {
  CHECK(parse_cookie_date("Wed, 21 Oct 2015 07:28:00 GMT") == s(1'445'412'480));
  CHECK(parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT") == s(784'111'777));   // IMF-fixdate
  CHECK(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT") == s(784'111'777));  // RFC 850
  CHECK(parse_cookie_date("Sun Nov  6 08:49:37 1994") == s(784'111'777));        // asctime
  CHECK(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
}

TEST_CASE("parse_cookie_date follows the token algorithm, not a fixed format", "[replay][cookies]") {
  const auto expected = s(1'445'412'480);  // 2015-10-21 07:28:00 UTC
  CHECK(parse_cookie_date("2015 Oct 21 07:28:00") == expected);  // any token order
  CHECK(parse_cookie_date("wed, 21 OCT 2015 07:28:00 gmt") == expected);  // case-insensitive
  CHECK(parse_cookie_date("21 October 2015 07:28:00") == expected);  // month: first three letters
  CHECK(parse_cookie_date("21-Oct-2015 07:28:00GMT") == expected);   // trailing non-digits on a time
  CHECK(parse_cookie_date("21 Oct 2015 07:28:00 +0900") == expected);  // zones are not applied: UTC
  CHECK(parse_cookie_date("21 Oct 2015 7:8:0") == s(1'445'411'280));  // one-digit time fields
  CHECK(parse_cookie_date("Sun, 29 Feb 2032 00:00:00 GMT").has_value());  // a leap day
}

TEST_CASE("parse_cookie_date maps two-digit years 70-99 to 19xx and 0-69 to 20xx", "[replay][cookies]") {
  CHECK(parse_cookie_date("01 Jan 70 00:00:00") == 0);
  CHECK(parse_cookie_date("31 Dec 99 23:59:59") == s(946'684'799));
  CHECK(parse_cookie_date("01 Jan 00 00:00:00") == s(946'684'800));
  CHECK(parse_cookie_date("01 Jan 69 00:00:00") == s(3'124'224'000));
  CHECK(parse_cookie_date("29 Feb 00 00:00:00") == s(951'782'400));  // 2000 is a leap year
}

TEST_CASE("parse_cookie_date rejects dates with a missing or out-of-range field", "[replay][cookies]") {
  for (const char* bad : {
           "",
           "GMT",
           "tomorrow",
           "Wed, 21 Oct 2015 GMT",        // no time
           "21 Oct 2015 07:28",           // a time needs three fields
           "21 Oct 2015 007:28:00",       // time fields are one or two digits
           "Oct 2015 07:28:00",           // no day of month
           "021 Oct 2015 07:28:00",       // three digits are no day ("021" is taken as the year)
           "21 2015 07:28:00",            // no month
           "21 Oct 07:28:00",             // no year
           "21 Oct 12345 07:28:00",       // five digits are no year
           "0 Oct 2015 07:28:00",         // day 1-31
           "32 Oct 2015 07:28:00",
           "21 Oct 1600 07:28:00",        // year >= 1601
           "21 Oct 2015 24:00:00",        // hour <= 23
           "21 Oct 2015 07:60:00",        // minute <= 59
           "21 Oct 2015 07:28:60",        // second <= 59 (no leap seconds)
           "31 Apr 2015 07:28:00",        // no such date
           "29 Feb 2015 07:28:00",
       }) {
    INFO(bad);
    CHECK_FALSE(parse_cookie_date(bad).has_value());
  }
}

TEST_CASE("parse_cookie_date clamps dates past the nanosecond range", "[replay][cookies]") {
  CHECK(parse_cookie_date("11 Apr 2262 23:47:16") == s(9'223'372'036));  // the last whole second
  CHECK(parse_cookie_date("11 Apr 2262 23:47:17") == kNever);
  CHECK(parse_cookie_date("31 Dec 9999 23:59:59") == kNever);
  CHECK(parse_cookie_date("01 Jan 1601 00:00:00") == kLongAgo);
}

// --- RFC 6265 5.1.3 and 5.1.4: matching ---------------------------------------------------

TEST_CASE("domain_match: identical, or a dot-separated suffix of a host name", "[replay][cookies]") {
  CHECK(domain_match("example.com", "example.com"));
  CHECK(domain_match("Shop.Example.COM", "example.com"));
  CHECK(domain_match("example.com", "EXAMPLE.com"));
  CHECK(domain_match("a.b.example.com", "example.com"));
  CHECK(domain_match("a.b.example.com", "b.example.com"));
  CHECK_FALSE(domain_match("badexample.com", "example.com"));  // not at a label boundary
  CHECK_FALSE(domain_match("example.com", "shop.example.com"));
  CHECK_FALSE(domain_match("example.com.evil", "example.com"));
  CHECK_FALSE(domain_match("example.com", ""));
}

TEST_CASE("domain_match: an IP address only matches itself", "[replay][cookies]") {
  CHECK(domain_match("192.168.0.1", "192.168.0.1"));
  CHECK_FALSE(domain_match("192.168.0.1", "168.0.1"));
  CHECK_FALSE(domain_match("192.168.0.1", "0.1"));
  CHECK_FALSE(domain_match("1.192.168.0.1", "192.168.0.1"));
  CHECK(domain_match("::1", "::1"));
  CHECK(domain_match("[::1]", "[::1]"));
  CHECK_FALSE(domain_match("[fe80::1.2.3.4]", "2.3.4]"));
}

TEST_CASE("path_match and default_path follow RFC 6265 5.1.4", "[replay][cookies]") {
  CHECK(path_match("/", "/"));
  CHECK(path_match("/api", "/api"));
  CHECK(path_match("/api/", "/api"));
  CHECK(path_match("/api/items", "/api"));
  CHECK(path_match("/api/items", "/api/"));
  CHECK(path_match("/anything", "/"));
  CHECK_FALSE(path_match("/apiary", "/api"));
  CHECK_FALSE(path_match("/", "/api"));
  CHECK_FALSE(path_match("/API/items", "/api"));  // paths are case-sensitive
  CHECK_FALSE(path_match("/static/app.js", "/api"));

  CHECK(default_path("") == "/");
  CHECK(default_path("relative/path") == "/");
  CHECK(default_path("/") == "/");
  CHECK(default_path("/login") == "/");
  CHECK(default_path("/api/login") == "/api");
  CHECK(default_path("/api/v1/") == "/api/v1");
  CHECK(default_path("/a//b") == "/a/");
}

// --- RFC 6265 5.2: parsing ----------------------------------------------------------------

TEST_CASE("set: the name-value pair comes before the first semicolon, trimmed", "[replay][cookies]") {
  CookieJar jar;
  CHECK(jar.set("  sid = abc def ;Path=/", "example.com", "/", kNow));
  CHECK(jar.set("token=a=b=c", "example.com", "/", kNow));  // the first '=' splits
  CHECK(jar.set("empty=", "example.com", "/", kNow));
  CHECK(jar.set("q=\"quoted\"", "example.com", "/", kNow));  // quotes are part of the value
  CHECK(jar.set("tab=\tx\ty\t", "example.com", "/", kNow));
  CHECK(jar.header_for("example.com", "/", kNow) == "sid=abc def; token=a=b=c; empty=; q=\"quoted\"; tab=x\ty");
  CHECK(jar.counters().stored == 5);
}

TEST_CASE("set: attributes are case-insensitive, trimmed, and unknown ones ignored", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("p=1; pAtH=/api; DOMAIN=example.com; max-AGE=60; SECURE; httponly", "shop.example.com", "/", kNow));
  const Cookie* p = find(jar, "p");
  REQUIRE(p);
  CHECK(p->path == "/api");
  CHECK(p->domain == "example.com");
  CHECK_FALSE(p->host_only);
  CHECK(p->persistent);
  CHECK(p->expiry_unix_ns == kNow + s(60));
  CHECK(p->secure);
  CHECK(p->http_only);

  REQUIRE(jar.set("w=1 ;  Path = /docs  ; Max-Age = 30 ", "example.com", "/", kNow));
  CHECK(find(jar, "w")->path == "/docs");
  CHECK(find(jar, "w")->expiry_unix_ns == kNow + s(30));

  REQUIRE(jar.set("u=1; SameSite=Strict; Priority=High; Partitioned; =; ;; Version=1; Secure=no", "example.com", "/x/y", kNow));
  const Cookie* u = find(jar, "u");
  REQUIRE(u);
  CHECK(u->value == "1");
  CHECK(u->path == "/x");
  CHECK(u->host_only);
  CHECK_FALSE(u->persistent);
  CHECK(u->expiry_unix_ns == kNever);
  CHECK(u->secure);  // Secure with a value is still Secure
  CHECK_FALSE(u->http_only);
}

TEST_CASE("set: the last valid attribute of a kind wins", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("a=1; Path=/a; Path=/b", "shop.example.com", "/", kNow));
  CHECK(find(jar, "a")->path == "/b");
  REQUIRE(jar.set("b=1; Domain=shop.example.com; Domain=example.com", "shop.example.com", "/", kNow));
  CHECK(find(jar, "b")->domain == "example.com");
  REQUIRE(jar.set("c=1; Domain=example.com; Domain=", "shop.example.com", "/", kNow));  // empty: ignored
  CHECK(find(jar, "c")->domain == "example.com");
  REQUIRE(jar.set("d=1; Max-Age=10; Max-Age=20", "shop.example.com", "/", kNow));
  CHECK(find(jar, "d")->expiry_unix_ns == kNow + s(20));
  REQUIRE(jar.set("e=1; Max-Age=10; Max-Age=soon", "shop.example.com", "/", kNow));  // invalid: ignored
  CHECK(find(jar, "e")->expiry_unix_ns == kNow + s(10));
  REQUIRE(jar.set("f=1; Path=/a; Path=relative", "shop.example.com", "/docs/x", kNow));  // -> default-path
  CHECK(find(jar, "f")->path == "/docs");
  REQUIRE(jar.set("g=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Expires=never", "shop.example.com", "/", kNow));
  CHECK(find(jar, "g")->expiry_unix_ns == s(2'139'722'880));
}

TEST_CASE("set: values without a usable name-value pair are rejected and counted", "[replay][cookies]") {
  CookieJar jar;
  for (std::string_view bad : {
           std::string_view(""),
           std::string_view("novalue"),
           std::string_view("noeq; a=b"),  // the '=' must be in the pair, not an attribute
           std::string_view("=value"),
           std::string_view("  =value"),
           std::string_view("a=b\r\nX-Injected: 1"),
           std::string_view("a=b\x7f"),
           std::string_view("a\0b=c", 5),
       }) {
    INFO(std::string(bad));
    CHECK_FALSE(jar.set(bad, "example.com", "/", kNow));
  }
  CHECK(jar.size() == 0);
  CHECK(jar.counters().rejected == 8);
  CHECK(jar.counters().stored == 0);
}

TEST_CASE("set: a value longer than max_cookie_bytes is rejected", "[replay][cookies]") {
  CookieJarLimits limits;
  limits.max_cookie_bytes = 32;
  CookieJar jar(limits);
  CHECK(jar.set("a=" + std::string(30, 'x'), "example.com", "/", kNow));
  CHECK_FALSE(jar.set("b=" + std::string(31, 'x'), "example.com", "/", kNow));
  CHECK_FALSE(jar.set("c=1; Path=/" + std::string(32, 'p'), "example.com", "/", kNow));  // attributes count
  CHECK(jar.size() == 1);
  CHECK(jar.counters().rejected == 2);
  CHECK(CookieJarLimits{}.max_cookie_bytes == 4096);
  CHECK(CookieJarLimits{}.max_cookies == 50);
}

// --- Expires and Max-Age ------------------------------------------------------------------

TEST_CASE("set: Expires sets an absolute expiry, invalid dates are ignored", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("e=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "example.com", "/", kNow));
  CHECK(find(jar, "e")->persistent);
  CHECK(find(jar, "e")->expiry_unix_ns == s(2'139'722'880));
  REQUIRE(jar.set("x=1; Expires=tomorrow", "example.com", "/", kNow));
  CHECK_FALSE(find(jar, "x")->persistent);
  CHECK(find(jar, "x")->expiry_unix_ns == kNever);
  REQUIRE(jar.set("y=1; Expires=31 Apr 2037 07:28:00", "example.com", "/", kNow));
  CHECK_FALSE(find(jar, "y")->persistent);
}

TEST_CASE("set: Max-Age takes precedence over Expires in either order", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("a=1; Max-Age=60; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "example.com", "/", kNow));
  REQUIRE(jar.set("b=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Max-Age=60", "example.com", "/", kNow));
  CHECK(find(jar, "a")->expiry_unix_ns == kNow + s(60));
  CHECK(find(jar, "b")->expiry_unix_ns == kNow + s(60));
  // An invalid Max-Age is no Max-Age: the Expires stands.
  REQUIRE(jar.set("c=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Max-Age=soon", "example.com", "/", kNow));
  CHECK(find(jar, "c")->expiry_unix_ns == s(2'139'722'880));
}

TEST_CASE("set: Max-Age values that are not digits are ignored", "[replay][cookies]") {
  CookieJar jar;
  int n = 0;
  for (const char* bad : {"60s", "+60", "abc", "", "-", "6 0", "1e3", "0x10", "--1"}) {
    INFO(bad);
    const std::string name = "n" + std::to_string(n++);
    REQUIRE(jar.set(name + "=1; Max-Age=" + bad, "example.com", "/", kNow));
    CHECK_FALSE(find(jar, name)->persistent);
    CHECK(find(jar, name)->expiry_unix_ns == kNever);
  }
  CHECK(jar.size() == 9);
  CHECK(jar.counters().deleted == 0);
}

TEST_CASE("set: Max-Age expires at now plus the seconds, saturating", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("m=1; Max-Age=60", "example.com", "/", kNow));
  CHECK(jar.header_for("example.com", "/", kNow + s(60) - 1) == "m=1");
  CHECK(jar.header_for("example.com", "/", kNow + s(60)) == "");  // expiry must be after now
  REQUIRE(jar.set("h=1; Max-Age=99999999999999999999999999", "example.com", "/", kNow));
  CHECK(find(jar, "h")->persistent);
  CHECK(find(jar, "h")->expiry_unix_ns == kNever);
  REQUIRE(jar.set("session=1", "example.com", "/", kNow));  // no expiry: lives for the whole replay
  CHECK(find(jar, "session")->expiry_unix_ns == kNever);
  CHECK(jar.header_for("example.com", "/", kNever - 1) == "h=1; session=1");
}

// --- Domain and host-only -----------------------------------------------------------------

TEST_CASE("set: Domain drops a leading dot, is lowercased and covers subdomains", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("d=1; Domain=.EXAMPLE.com", "www.example.com", "/", kNow));
  CHECK(find(jar, "d")->domain == "example.com");
  CHECK_FALSE(find(jar, "d")->host_only);
  CHECK(jar.header_for("example.com", "/", kNow) == "d=1");
  CHECK(jar.header_for("a.b.example.com", "/", kNow) == "d=1");
  CHECK(jar.header_for("notexample.com", "/", kNow) == "");
  // Domain equal to the host is still a domain cookie.
  REQUIRE(jar.set("e=1; Domain=api.test", "api.test", "/", kNow));
  CHECK(jar.header_for("v2.api.test", "/", kNow) == "e=1");
}

TEST_CASE("set: a Domain the host does not domain-match makes the whole cookie ignored", "[replay][cookies]") {
  CookieJar jar;
  CHECK_FALSE(jar.set("x=1; Domain=other.com", "example.com", "/", kNow));
  CHECK_FALSE(jar.set("x=1; Domain=shop.example.com", "example.com", "/", kNow));  // a child of the host
  CHECK_FALSE(jar.set("x=1; Domain=ample.com", "example.com", "/", kNow));  // not at a label boundary
  CHECK_FALSE(jar.set("x=1; Domain=example.com.", "example.com", "/", kNow));
  CHECK(jar.size() == 0);
  CHECK(jar.counters().rejected == 4);
}

TEST_CASE("set: without Domain a cookie is host-only and goes to that exact host", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("h=1", "Example.COM", "/", kNow));
  CHECK(find(jar, "h")->host_only);
  CHECK(find(jar, "h")->domain == "example.com");
  CHECK(jar.header_for("EXAMPLE.com", "/", kNow) == "h=1");
  CHECK(jar.header_for("www.example.com", "/", kNow) == "");
  // An empty Domain, or one that is only a dot, is no Domain.
  REQUIRE(jar.set("e=1; Domain=", "example.com", "/", kNow));
  REQUIRE(jar.set("f=1; Domain=.", "example.com", "/", kNow));
  CHECK(find(jar, "e")->host_only);
  CHECK(find(jar, "f")->host_only);
  CHECK(jar.header_for("www.example.com", "/", kNow) == "");
}

TEST_CASE("set: IP-address hosts get no suffix domain matching", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("ip=1", "192.168.0.10", "/", kNow));
  CHECK(jar.header_for("192.168.0.10", "/", kNow) == "ip=1");
  CHECK_FALSE(jar.set("ip2=1; Domain=168.0.10", "192.168.0.10", "/", kNow));
  CHECK_FALSE(jar.set("ip3=1; Domain=0.10", "192.168.0.10", "/", kNow));
  REQUIRE(jar.set("ip4=1; Domain=192.168.0.10", "192.168.0.10", "/", kNow));  // itself is fine
  CHECK_FALSE(find(jar, "ip4")->host_only);
  CHECK(jar.header_for("1.192.168.0.10", "/", kNow) == "");
  REQUIRE(jar.set("v6=1", "[::1]", "/", kNow));
  CHECK(jar.header_for("[::1]", "/", kNow) == "v6=1");
  CHECK(jar.header_for("[::2]", "/", kNow) == "");
}

// --- Path ---------------------------------------------------------------------------------

TEST_CASE("set: an absent or relative Path becomes the request's default-path", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("a=1", "example.com", "/api/login", kNow));
  REQUIRE(jar.set("b=1; Path=api", "example.com", "/api/login", kNow));
  REQUIRE(jar.set("c=1; Path=", "example.com", "/api/login", kNow));
  REQUIRE(jar.set("d=1", "example.com", "/login", kNow));
  REQUIRE(jar.set("q=1", "example.com", "/shop/cart?next=/a/b/c", kNow));  // the query is no path
  CHECK(find(jar, "a")->path == "/api");
  CHECK(find(jar, "b")->path == "/api");
  CHECK(find(jar, "c")->path == "/api");
  CHECK(find(jar, "d")->path == "/");
  CHECK(find(jar, "q")->path == "/shop");
  CHECK(jar.header_for("example.com", "/api/items", kNow) == "a=1; b=1; c=1; d=1");
  CHECK(jar.header_for("example.com", "/apiary", kNow) == "d=1");
  CHECK(jar.header_for("example.com", "/shop/x?y=1", kNow) == "q=1; d=1");
}

// --- RFC 6265 5.3: storage ----------------------------------------------------------------

TEST_CASE("set: replacing a cookie keeps its creation time and place", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("a=1", "example.com", "/", kNow));
  REQUIRE(jar.set("b=1", "example.com", "/", kNow + s(1)));
  REQUIRE(jar.set("a=2; Secure", "example.com", "/", kNow + s(2)));
  CHECK(jar.header_for("example.com", "/", kNow + s(3)) == "a=2; b=1");
  CHECK(find(jar, "a")->creation_unix_ns == kNow);
  CHECK(find(jar, "a")->secure);  // everything but the creation time is the new cookie's
  CHECK(jar.size() == 2);
  CHECK(jar.counters().stored == 2);
  CHECK(jar.counters().replaced == 1);

  // The identity is (name, domain, path): host-only and Domain=host share it, names are
  // case-sensitive, and another path is another cookie.
  REQUIRE(jar.set("a=3; Domain=example.com", "example.com", "/", kNow + s(4)));
  CHECK(jar.size() == 2);
  CHECK_FALSE(find(jar, "a")->host_only);
  CHECK(jar.counters().replaced == 2);
  REQUIRE(jar.set("A=1", "example.com", "/", kNow + s(5)));
  REQUIRE(jar.set("a=4; Path=/x", "example.com", "/", kNow + s(6)));
  CHECK(jar.size() == 4);
  CHECK(jar.header_for("example.com", "/x", kNow + s(7)) == "a=4; a=3; b=1; A=1");
}

TEST_CASE("set: Max-Age=0, a negative Max-Age and a past Expires delete", "[replay][cookies]") {
  for (const char* deletion : {"sid=; Max-Age=0", "sid=; Max-Age=-1", "sid=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                               "sid=; Expires=Sun, 13 Sep 2020 12:26:40 GMT" /* == now: not after now */}) {
    INFO(deletion);
    CookieJar jar;
    REQUIRE(jar.set("sid=1", "example.com", "/", kNow - s(10)));
    REQUIRE(jar.set("keep=1", "example.com", "/", kNow - s(10)));
    CHECK(jar.set(deletion, "example.com", "/", kNow));
    CHECK(jar.size() == 1);
    CHECK(jar.header_for("example.com", "/", kNow) == "keep=1");
    CHECK(jar.counters().deleted == 1);
    CHECK(jar.rewrite("sid=OLD; keep=1", "example.com", "/", kNow) == "keep=1");
  }
}

TEST_CASE("set: a deletion only removes the cookie with the same name, domain and path", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("sid=1; Path=/api", "example.com", "/", kNow));
  REQUIRE(jar.set("sid=; Max-Age=0", "example.com", "/", kNow));  // path "/": another cookie
  CHECK(jar.size() == 1);
  CHECK(jar.header_for("example.com", "/api", kNow) == "sid=1");
  CHECK_FALSE(jar.set("sid=; Max-Age=0; Domain=other.com", "example.com", "/api/x", kNow));
  CHECK(jar.size() == 1);
  REQUIRE(jar.set("sid=; Max-Age=0; Path=/api", "example.com", "/", kNow));
  CHECK(jar.size() == 0);
}

TEST_CASE("tombstones drop the recorded value until the cookie is set again", "[replay][cookies]") {
  CookieJar jar;
  // Deleting a cookie the jar never held still drops the recorded one.
  REQUIRE(jar.set("tracker=; Max-Age=0", "example.com", "/", kNow));
  CHECK(jar.size() == 0);
  CHECK(jar.counters().deleted == 1);
  CHECK(jar.rewrite("tracker=abc; theme=dark", "example.com", "/", kNow) == "theme=dark");
  CHECK(jar.rewrite("tracker=abc", "example.com", "/", kNow) == "");
  REQUIRE(jar.set("tracker=new", "example.com", "/", kNow + s(1)));
  CHECK(jar.rewrite("tracker=abc; theme=dark", "example.com", "/", kNow + s(1)) == "tracker=new; theme=dark");
  REQUIRE(jar.set("tracker=; Max-Age=0", "example.com", "/", kNow + s(2)));
  CHECK(jar.rewrite("tracker=abc; theme=dark", "example.com", "/", kNow + s(2)) == "theme=dark");
}

TEST_CASE("tombstones are scoped like the cookie they delete", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("sid=; Max-Age=0; Path=/api", "example.com", "/api/logout", kNow));
  CHECK(jar.rewrite("sid=OLD", "example.com", "/api/items", kNow) == "");
  CHECK(jar.rewrite("sid=OLD", "example.com", "/static/x", kNow) == "sid=OLD");
  CHECK(jar.rewrite("sid=OLD", "www.example.com", "/api/items", kNow) == "sid=OLD");  // host-only
  REQUIRE(jar.set("t=; Max-Age=0; Domain=example.com", "www.example.com", "/", kNow));
  CHECK(jar.rewrite("t=1; u=2", "shop.example.com", "/", kNow) == "u=2");
  CHECK(jar.rewrite("t=1; u=2", "example.org", "/", kNow) == "t=1; u=2");
}

TEST_CASE("limits: past max_cookies the oldest is evicted, expired ones go first", "[replay][cookies]") {
  CookieJarLimits limits;
  limits.max_cookies = 3;
  CookieJar jar(limits);
  for (int i = 1; i <= 4; ++i)
    REQUIRE(jar.set("c" + std::to_string(i) + "=1", "example.com", "/", kNow + s(i)));
  CHECK(jar.size() == 3);
  CHECK(jar.counters().evicted == 1);
  CHECK(jar.header_for("example.com", "/", kNow + s(5)) == "c2=1; c3=1; c4=1");
  REQUIRE(jar.set("c2=2", "example.com", "/", kNow + s(6)));  // a replacement takes no room
  CHECK(jar.counters().evicted == 1);
  // An evicted cookie was never deleted by the server: the recorded value goes out again.
  CHECK(jar.rewrite("c1=REC; c2=REC", "example.com", "/", kNow + s(7)) == "c1=REC; c2=2");

  limits.max_cookies = 2;
  CookieJar small(limits);
  REQUIRE(small.set("old=1", "example.com", "/", kNow));
  REQUIRE(small.set("short=1; Max-Age=5", "example.com", "/", kNow + s(1)));
  REQUIRE(small.set("new=1", "example.com", "/", kNow + s(10)));  // short has expired: no eviction
  CHECK(small.counters().expired == 1);
  CHECK(small.counters().evicted == 0);
  CHECK(small.header_for("example.com", "/", kNow + s(10)) == "old=1; new=1");
  REQUIRE(small.set("newer=1", "example.com", "/", kNow + s(11)));
  CHECK(small.counters().evicted == 1);
  CHECK(small.header_for("example.com", "/", kNow + s(11)) == "new=1; newer=1");
  // The expired cookie became a tombstone (the server set it, its time is up); the evicted did not.
  CHECK(small.rewrite("old=REC; short=REC; new=REC", "example.com", "/", kNow + s(11)) == "old=REC; new=1");
}

TEST_CASE("limits: past max_tombstones the oldest deletion is forgotten", "[replay][cookies]") {
  CookieJarLimits limits;
  limits.max_tombstones = 2;
  CookieJar jar(limits);
  REQUIRE(jar.set("a=; Max-Age=0", "example.com", "/", kNow));
  REQUIRE(jar.set("b=; Max-Age=0", "example.com", "/", kNow));
  REQUIRE(jar.set("a=; Max-Age=0", "example.com", "/", kNow));  // refreshed: now the newest
  REQUIRE(jar.set("c=; Max-Age=0", "example.com", "/", kNow));
  CHECK(jar.counters().forgotten == 1);
  CHECK(jar.counters().deleted == 4);
  CHECK(jar.rewrite("a=1; b=1; c=1", "example.com", "/", kNow) == "b=1");
}

// --- RFC 6265 5.4: what goes back ---------------------------------------------------------

TEST_CASE("header_for: longer paths first, then earlier creation, then insertion", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("root=1", "example.com", "/", kNow));
  REQUIRE(jar.set("deep=1; Path=/api/v1", "example.com", "/", kNow + s(1)));
  REQUIRE(jar.set("mid=1; Path=/api", "example.com", "/", kNow + s(2)));
  REQUIRE(jar.set("early=1", "example.com", "/", kNow - s(5)));
  REQUIRE(jar.set("x=1", "example.com", "/", kNow + s(3)));  // x and y in one response
  REQUIRE(jar.set("y=1", "example.com", "/", kNow + s(3)));
  CHECK(jar.header_for("example.com", "/api/v1/items", kNow + s(4)) == "deep=1; mid=1; early=1; root=1; x=1; y=1");
  CHECK(jar.header_for("example.com", "/api", kNow + s(4)) == "mid=1; early=1; root=1; x=1; y=1");
  CHECK(jar.header_for("other.com", "/", kNow + s(4)) == "");
}

TEST_CASE("Secure and HttpOnly cookies are stored and sent over plain http", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("s=1; Secure; HttpOnly", "example.com", "/", kNow));
  CHECK(find(jar, "s")->secure);
  CHECK(find(jar, "s")->http_only);
  CHECK(jar.header_for("example.com", "/", kNow) == "s=1");
  CHECK(jar.rewrite("s=0", "example.com", "/", kNow) == "s=1");
}

TEST_CASE("rewrite: the recorded text is returned unchanged when nothing applies", "[replay][cookies]") {
  CookieJar jar;
  CHECK(jar.rewrite("a=1;b=2  ; ;", "example.com", "/", kNow) == "a=1;b=2  ; ;");
  CHECK(jar.rewrite("", "example.com", "/", kNow) == "");
  REQUIRE(jar.set("session=X", "example.com", "/", kNow));
  REQUIRE(jar.set("unrelated=1", "example.com", "/", kNow));
  CHECK(jar.rewrite("a=1;b=2  ; ;", "example.com", "/", kNow) == "a=1;b=2  ; ;");
  CHECK(jar.rewrite("session=X;theme=dark", "example.com", "/", kNow) == "session=X;theme=dark");  // same value
  CHECK(jar.rewrite("session=OLD", "other.com", "/", kNow) == "session=OLD");
  CHECK(jar.rewrite("SESSION=OLD", "example.com", "/", kNow) == "SESSION=OLD");  // names are case-sensitive
}

TEST_CASE("rewrite: order is kept, pairs are rejoined with a semicolon and a space, nothing is added", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("b=NEW", "example.com", "/", kNow));
  REQUIRE(jar.set("extra=1", "example.com", "/", kNow));
  CHECK(jar.rewrite("a=1;b=2;  c=3 ;", "example.com", "/", kNow) == "a=1; b=NEW; c=3");
  CHECK(jar.rewrite("flag; b = 2", "example.com", "/", kNow) == "flag; b=NEW");  // a bare token stays
  CHECK(jar.rewrite("a=1", "example.com", "/", kNow) == "a=1");  // extra is not added
}

TEST_CASE("rewrite: recorded pairs of one name meet the jar's cookies of that name in order", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("a=Y", "example.com", "/", kNow));
  REQUIRE(jar.set("a=X; Path=/api", "example.com", "/", kNow + s(1)));
  // The recording's browser sent a(/api) then a(/): each gets its own new value.
  CHECK(jar.rewrite("a=1; a=2", "example.com", "/api/items", kNow + s(2)) == "a=X; a=Y");
  CHECK(jar.rewrite("a=1; a=2; a=3", "example.com", "/", kNow + s(2)) == "a=Y; a=2; a=3");
  REQUIRE(jar.set("a=; Max-Age=0; Path=/api", "example.com", "/", kNow + s(3)));
  CHECK(jar.rewrite("a=1; a=2", "example.com", "/api/items", kNow + s(3)) == "a=Y");
}

TEST_CASE("inputs in exactly sized buffers, at every length, read nothing past the end", "[replay][cookies]") {
  const std::string set_cookie =
      "sid=abc; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Max-Age=60; Domain=.example.com; Path=/api; Secure; HttpOnly";
  const Exact host("www.example.com");
  const Exact path("/api/login");
  for (std::size_t n = 0; n <= set_cookie.size(); ++n) {
    const Exact text(std::string_view(set_cookie).substr(0, n));
    CookieJar jar;
    const bool ok = jar.set(text.view(), host.view(), path.view(), kNow);
    INFO(text.view());
    CHECK(jar.size() == (ok ? 1u : 0u));
    CHECK(jar.counters().rejected == (ok ? 0u : 1u));
    if (n < 4) CHECK_FALSE(ok);  // "sid=" is the shortest name-value pair
    if (n == set_cookie.size()) CHECK(jar.header_for(host.view(), path.view(), kNow) == "sid=abc");
  }

  const std::string date = "Sunday, 06-Nov-94 08:49:37 GMT";
  for (std::size_t n = 0; n <= date.size(); ++n) {
    const Exact text(std::string_view(date).substr(0, n));
    const auto parsed = parse_cookie_date(text.view());
    INFO(text.view());
    const std::size_t one_second_digit = std::string_view("Sunday, 06-Nov-94 08:49:3").size();
    if (n < one_second_digit) CHECK_FALSE(parsed.has_value());
    else if (n == one_second_digit) CHECK(parsed == s(784'111'777 - 34));  // "08:49:3" is 08:49:03
    else CHECK(parsed == s(784'111'777));
  }

  CookieJar jar;
  REQUIRE(jar.set("session=NEW", "example.com", "/", kNow));
  const std::string recorded = "theme=dark; session=OLD; lang=en";
  for (std::size_t n = 0; n <= recorded.size(); ++n) {
    const Exact text(std::string_view(recorded).substr(0, n));
    const std::string out = jar.rewrite(text.view(), Exact("example.com").view(), Exact("/").view(), kNow);
    INFO(text.view());
    CHECK(out.find("session=O") == std::string::npos);
  }
}

// --- Regressions: what a replayed session clone got wrong without a jar --------------------

TEST_CASE("regression: a login that sets session=NEW replaces the recorded session=OLD and keeps theme=dark",
          "[replay][cookies]") {
  CookieJar jar;
  const std::string recorded = "session=OLD; theme=dark";
  CHECK(jar.rewrite(recorded, "shop.example.com", "/", kNow) == recorded);  // before the login
  REQUIRE(jar.set("session=NEW; Path=/; Secure; HttpOnly; SameSite=Lax", "shop.example.com", "/login", kNow + s(1)));
  CHECK(jar.rewrite(recorded, "shop.example.com", "/account", kNow + s(2)) == "session=NEW; theme=dark");
  CHECK(jar.rewrite(recorded, "Shop.Example.com", "/cart?id=3", kNow + s(3)) == "session=NEW; theme=dark");
}

TEST_CASE("regression: a cookie for path /api is not applied to /static", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("api_token=T; Path=/api", "example.com", "/api/login", kNow));
  CHECK(jar.rewrite("api_token=OLD; theme=dark", "example.com", "/static/app.js", kNow) == "api_token=OLD; theme=dark");
  CHECK(jar.rewrite("api_token=OLD; theme=dark", "example.com", "/api/items", kNow) == "api_token=T; theme=dark");
  CHECK(jar.header_for("example.com", "/static/app.js", kNow) == "");
}

TEST_CASE("regression: a Domain=example.com cookie is applied to shop.example.com", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("cart=NEW; Domain=example.com; Path=/", "www.example.com", "/", kNow));
  CHECK(jar.rewrite("cart=OLD", "shop.example.com", "/checkout", kNow) == "cart=NEW");
  CHECK(jar.header_for("shop.example.com", "/checkout", kNow) == "cart=NEW");
}

TEST_CASE("regression: a cookie with Domain=other.com is ignored", "[replay][cookies]") {
  CookieJar jar;
  CHECK_FALSE(jar.set("evil=1; Domain=other.com", "example.com", "/", kNow));
  CHECK(jar.size() == 0);
  CHECK(jar.counters().rejected == 1);
  CHECK(jar.rewrite("evil=REC", "other.com", "/", kNow) == "evil=REC");
  CHECK(jar.rewrite("evil=REC", "example.com", "/", kNow) == "evil=REC");
  CHECK(jar.header_for("other.com", "/", kNow) == "");
}

TEST_CASE("regression: an expired cookie is no longer applied", "[replay][cookies]") {
  CookieJar jar;
  REQUIRE(jar.set("session=NEW; Max-Age=60", "example.com", "/", kNow));
  REQUIRE(jar.set("promo=on; Expires=Sun, 13 Sep 2020 13:26:40 GMT", "example.com", "/", kNow));  // now + 1 h
  const std::string recorded = "session=OLD; promo=off; theme=dark";
  CHECK(jar.rewrite(recorded, "example.com", "/", kNow + s(30)) == "session=NEW; promo=on; theme=dark");
  // Past Max-Age: the target's session is gone, and the recorded one was never the target's.
  CHECK(jar.rewrite(recorded, "example.com", "/", kNow + s(60)) == "promo=on; theme=dark");
  CHECK(jar.rewrite(recorded, "example.com", "/", kNow + s(3600)) == "theme=dark");
  CHECK(jar.header_for("example.com", "/", kNow + s(3600)) == "");
  // The next set() sweeps them into tombstones; the rewrite stays the same.
  REQUIRE(jar.set("theme=light", "example.com", "/", kNow + s(3600)));
  CHECK(jar.counters().expired == 2);
  CHECK(jar.size() == 1);
  CHECK(jar.rewrite(recorded, "example.com", "/", kNow + s(3600)) == "theme=light");
}
