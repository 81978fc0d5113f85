#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/replay/correlation_tracker.hpp"
#include "reprise/replay/engine.hpp"
#include "reprise/replay/session_clones.hpp"

using namespace reprise::replay;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000'000'000;  // unix ns, for the jars
constexpr std::uint64_t kSession = 7;

const std::string kRecorded = "rec0rdedT0ken1234567890abcd";
const std::string kReplay0 = "n3wT0kenForClone0-xyz0987654321";  // longer than kRecorded
const std::string kReplay1 = "T0kenForClone1-42abc";             // shorter
// With '+', '/' and '=': a query or form carries it percent-encoded.
const std::string kPlusRecorded = "ab+cd/ef=gh12345678XY", kPlusReplayed = "zz+yy/xx=ww0987654321QR";

using Fields = std::vector<std::pair<std::string, std::string>>;

// A request wire: request line, Host, `fields`, and `body` with its Content-Length.
std::string request(std::string_view line, const std::vector<std::string>& fields, std::string_view body = {}) {
  std::string w = std::string(line) + " HTTP/1.1\r\nHost: shop.test:8080\r\n";
  for (const auto& f : fields) w += f + "\r\n";
  if (!body.empty()) w += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return w + "\r\n" + std::string(body);
}

std::string token_json(const std::string& token) { return "{\"token\":\"" + token + "\"}"; }

CorrelationRule rule(std::string_view text, bool automatic = false) {
  auto r = parse_correlation_rule(text);
  REQUIRE(r);
  r->automatic = automatic;
  return std::move(*r);
}

// The recorded trace: a tracker over exchanges of kSession, in order, 100 ms apart; each
// recorded response ends 10 ms after its request.
struct Trace {
  explicit Trace(const CorrelationSettings& s) : tracker_(s) {}
  // A recorded exchange; no headers and no body: no response was recorded.
  TraceRequest add(std::string wire, const Fields& headers = {}, std::string_view body = {},
                   std::uint64_t session = kSession) {
    TraceRequest t;
    t.exchange_id = ++last_id_;
    t.session_id = session;
    t.recorded_ns = static_cast<std::int64_t>(t.exchange_id) * 100'000'000;
    t.wire = std::make_shared<const std::string>(std::move(wire));
    ResponseView v;
    for (const auto& [n, value] : headers) v.headers.emplace_back(n, value);
    v.body = body;
    const bool answered = !headers.empty() || !body.empty();
    attach_correlation(t, tracker_.observe(session, t.exchange_id, t.recorded_ns, *t.wire,
                                           answered ? &v : nullptr, t.recorded_ns + 10'000'000));
    return t;
  }
  CorrelationTracker tracker_;
  std::uint64_t last_id_ = 0;
};

ScheduledRequest as_clone(const TraceRequest& t, std::uint32_t clone) {
  ScheduledRequest r;
  r.request = t;
  r.clone = clone;
  return r;
}

// The replayed answer to `r` (status 0 and an error: it failed).
EngineOutcome answer(const ScheduledRequest& r, std::uint16_t status, Fields headers, std::string_view body,
                     OutcomeError error = OutcomeError::None) {
  EngineOutcome o;
  o.exchange_id = r.request.exchange_id;
  o.session_id = r.request.session_id;
  o.clone = r.clone;
  o.iteration = r.iteration;
  o.facts.status = status;
  o.facts.error = error;
  o.headers = std::move(headers);
  o.body.assign(body.begin(), body.end());
  o.correlation = r.request.correlation;
  o.producer = r.request.producer;
  return o;
}

int flags(const SessionClones::Prepared& p) { return p.flags; }

// The login trace: exchange 1 hands out `token`, exchange 2 sends it in a header and its body.
struct Login {
  CorrelationSettings settings;
  std::unique_ptr<Trace> trace;
  TraceRequest login, cart;
  explicit Login(std::vector<CorrelationRule> rules = {}, const std::string& token = kRecorded) {
    if (rules.empty()) rules.push_back(rule("json:$.token"));
    settings.rules = std::move(rules);
    trace = std::make_unique<Trace>(settings);
    login = trace->add(request("POST /login", {}, "user=alice"), {{"Content-Type", "application/json"}},
                       token_json(token));
    cart = trace->add(cart_wire(token));
  }
  static std::string cart_wire(const std::string& token) {
    return request("POST /cart", {"Authorization: Bearer " + token, "Content-Type: application/json"},
                   "{\"token\":\"" + token + "\",\"sku\":\"A1\"}");
  }
};

}  // namespace

// ---- request_host_path and the tracker --------------------------------------------------------

TEST_CASE("request_host_path strips the port, unwraps IPv6 and takes the path of an absolute-form target",
          "[replay][correlation][clones]") {
  struct Case {
    const char *wire, *host, *path;
  };
  for (const Case& c : {
           Case{"GET /a/b?x=1 HTTP/1.1\r\nHost: shop.test:8080\r\n\r\n", "shop.test", "/a/b"},
           Case{"GET / HTTP/1.1\r\nhost: [::1]:8443\r\n\r\n", "::1", "/"},
           Case{"GET /x HTTP/1.1\r\nAccept: */*\r\nHost:  [2001:db8::1] \r\n\r\n", "2001:db8::1", "/x"},
           Case{"GET http://proxy.test:3128/api/v1?q=1 HTTP/1.1\r\nHost: api.test\r\n\r\n", "api.test", "/api/v1"},
           Case{"GET http://api.test HTTP/1.1\r\nHost: api.test\r\n\r\n", "api.test", "/"},
           Case{"GET /x HTTP/1.1\r\nX-Host: other\r\n\r\n", "", "/x"},
           Case{"POST /x HTTP/1.1\r\nContent-Length: 15\r\n\r\nHost: evil.test", "", "/x"},
       }) {
    INFO(c.wire);
    std::string host = "stale", path = "stale";
    request_host_path(c.wire, host, path);
    CHECK(host == c.host);
    CHECK(path == c.path);
  }
  // Every prefix of a wire, in a buffer of exactly its size (ASan sees a read past the end).
  const std::string_view w = "GET http://a.test:1/x?y HTTP/1.1\r\nHost: [::1\r\nHost: b:2\r\n\r\n";
  for (std::size_t n = 0; n <= w.size(); ++n) {
    const std::vector<char> exact(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(n));
    std::string host, path;
    request_host_path({exact.data(), n}, host, path);
  }
}

TEST_CASE("the tracker finds a later request's use of a recorded value in its own session, unless disabled",
          "[replay][correlation][clones]") {
  Login t;
  REQUIRE(t.login.correlation);
  CHECK(t.login.correlation->producer);
  CHECK(t.login.correlation->needs.empty());
  CHECK(t.login.correlation->host == "shop.test");
  CHECK(t.login.correlation->path == "/login");
  REQUIRE(t.cart.correlation);
  REQUIRE(t.cart.correlation->needs.size() == 1);
  const Need& need = t.cart.correlation->needs[0];
  CHECK(need.producer == t.login.exchange_id);
  CHECK(need.rule == 0);
  CHECK(need.place == "$.token");
  CHECK(need.recorded == kRecorded);
  CHECK_FALSE(need.encoded);
  CHECK_FALSE(t.cart.correlation->producer);

  const auto other = t.trace->add(Login::cart_wire(kRecorded), {}, {}, kSession + 1);
  CHECK(other.correlation->needs.empty());
  const TrackerStats s = t.trace->tracker_.stats();
  CHECK(s.producers == 1);
  CHECK(s.values_found == 1);
  CHECK(s.needs == 1);

  CorrelationSettings off;  // --no-correlate: every request as recorded
  off.enabled = false;
  off.rules.push_back(rule("json:$.token"));
  CorrelationTracker disabled(off);
  CHECK(disabled.observe(1, 1, 0, "GET / HTTP/1.1\r\n\r\n", nullptr, 0) == nullptr);
}

// ---- SessionClones ----------------------------------------------------------------------------

TEST_CASE("a request whose producer was never sent for its clone is a miss and goes out as recorded",
          "[replay][correlation][clones]") {
  Login t;
  SessionClones clones(t.settings);
  const ScheduledRequest cart = as_clone(t.cart, 0);
  const auto p = clones.prepare(cart, false, kNow);
  CHECK(flags(p) == kMissed);
  CHECK(p.wire == cart.request.wire);  // the shared recorded bytes, not a copy
  CHECK(clones.totals().rules.at(0).misses == 1);
}

TEST_CASE("a request waits for a producer in flight and, on giving up, sends the recorded value",
          "[replay][correlation][clones]") {
  Login t;
  SessionClones clones(t.settings);
  const ScheduledRequest login = as_clone(t.login, 0), cart = as_clone(t.cart, 0);
  clones.expect(login.session_key(), login.request.exchange_id);
  auto p = clones.prepare(cart, false, kNow);
  CHECK(p.wait);
  CHECK(p.producer == login.request.exchange_id);
  p = clones.prepare(cart, true, kNow);
  CHECK(flags(p) == kTimedOut);
  CHECK(*p.wire == *cart.request.wire);

  // A producer that failed is no longer waited for: its values are misses.
  clones.received(answer(login, 0, {}, "", OutcomeError::Timeout), kNow);
  p = clones.prepare(cart, false, kNow);
  CHECK(flags(p) == kMissed);
}

TEST_CASE("each clone sends the token its own login returned, with Content-Length rebuilt",
          "[replay][correlation][clones]") {
  Login t;
  SessionClones clones(t.settings);
  for (std::uint32_t k : {0u, 1u}) {
    const ScheduledRequest login = as_clone(t.login, k);
    clones.expect(login.session_key(), login.request.exchange_id);
    clones.received(answer(login, 200, {{"Content-Type", "application/json"}}, token_json(k == 0 ? kReplay0 : kReplay1)),
                    kNow);
  }
  const auto p0 = clones.prepare(as_clone(t.cart, 0), false, kNow), p1 = clones.prepare(as_clone(t.cart, 1), false, kNow);
  CHECK(flags(p0) == kSubstituted);
  CHECK(*p0.wire == Login::cart_wire(kReplay0));
  CHECK(flags(p1) == kSubstituted);
  CHECK(*p1.wire == Login::cart_wire(kReplay1));
  CHECK(*t.cart.wire == Login::cart_wire(kRecorded));  // the recorded bytes are left alone

  // A replayed login whose answer lacks the token: the clone never received it.
  const ScheduledRequest login2 = as_clone(t.login, 2);
  clones.expect(login2.session_key(), login2.request.exchange_id);
  clones.received(answer(login2, 200, {}, "{\"error\":\"locked\"}"), kNow);
  const auto p2 = clones.prepare(as_clone(t.cart, 2), false, kNow);
  CHECK(flags(p2) == kMissed);
  CHECK(*p2.wire == *t.cart.wire);

  const auto totals = clones.totals().rules.at(0);
  CHECK(totals.learned == 2);
  CHECK(totals.substituted == 4);  // header and body, two clones
}

TEST_CASE("the Cookie header carries the clone's jar values and keeps cookies the target never set",
          "[replay][correlation][clones]") {
  CorrelationSettings settings;
  Trace trace(settings);
  const auto login = as_clone(trace.add(request("POST /login", {}, "user=alice"), {{"Set-Cookie", "sid=rec; Path=/"}}), 0);
  const auto account = trace.add(request("GET /account", {"Cookie: sid=recordedSid; theme=dark; _ga=GA1.2.3"}));
  REQUIRE((account.correlation && account.correlation->cookie_header));

  SessionClones clones(settings);
  clones.received(answer(login, 200, {{"Set-Cookie", "sid=replaySid; Path=/; HttpOnly"}}, ""), kNow);
  const auto p = clones.prepare(as_clone(account, 0), false, kNow);
  CHECK(flags(p) == kJarCookies);
  CHECK(*p.wire == request("GET /account", {"Cookie: sid=replaySid; theme=dark; _ga=GA1.2.3"}));

  // Clone 1 has no jar yet: its request is the recorded one.
  const auto p1 = clones.prepare(as_clone(account, 1), false, kNow);
  CHECK(flags(p1) == 0);
  CHECK(p1.wire == account.wire);

  const auto totals = clones.totals();
  CHECK(totals.cookies_set == 1);
  CHECK(totals.cookies_rejected == 0);
  CHECK(totals.cookie_headers_rewritten == 1);
}

TEST_CASE("the jar matches cookies against the path the clone sent, with {clone} expanded",
          "[replay][correlation][clones]") {
  // --rewrite-path '^/u/alice=/u/{clone}': each clone is its own user; the target scopes the
  // cart cookie to that user's path, which only the expanded path matches.
  CorrelationSettings settings;
  Trace trace(settings);
  const auto open = trace.add(request("POST /u/{clone}/cart", {}), {{"Set-Cookie", "cart=rec; Path=/u/alice"}});
  const auto items = trace.add(request("GET /u/{clone}/cart/items", {"Cookie: cart=recordedCart"}));
  REQUIRE((items.correlation && items.correlation->cookie_header));

  SessionClones clones(settings);
  clones.received(answer(as_clone(open, 3), 200, {{"Set-Cookie", "cart=c3; Path=/u/3"}}, ""), kNow);
  const auto p = clones.prepare(as_clone(items, 3), false, kNow);
  CHECK(flags(p) == kJarCookies);
  CHECK(*p.wire == request("GET /u/3/cart/items", {"Cookie: cart=c3"}));
  // A cookie set without Path takes its default from the path sent: /u/3/cart for clone 3.
  clones.received(answer(as_clone(open, 4), 200, {{"Set-Cookie", "cart=c4"}}, ""), kNow);
  CHECK(*clones.prepare(as_clone(items, 4), false, kNow).wire == request("GET /u/4/cart/items", {"Cookie: cart=c4"}));
}

TEST_CASE("a cookie the target deleted is not sent back even when the jar holds no other cookie",
          "[replay][correlation][clones]") {
  CorrelationSettings settings;
  Trace trace(settings);
  const auto logout = as_clone(trace.add(request("POST /logout", {}), {{"Set-Cookie", "sid=; Max-Age=0"}}), 0);
  const auto home = trace.add(request("GET /", {"Cookie: sid=recordedSid; theme=dark"}));
  const auto bye = trace.add(request("GET /bye", {"Cookie: sid=recordedSid"}));

  SessionClones clones(settings);
  clones.received(answer(logout, 200, {{"Set-Cookie", "sid=; Max-Age=0; Path=/"}}, ""), kNow);
  const auto p = clones.prepare(as_clone(home, 0), false, kNow);
  CHECK(*p.wire == request("GET /", {"Cookie: theme=dark"}));
  CHECK(*clones.prepare(as_clone(bye, 0), false, kNow).wire == request("GET /bye", {}));  // left empty: dropped
  // The same deletion with another cookie beside it in the jar: the jar is asked, sid is dropped.
  const auto logout1 = as_clone(logout.request, 1);
  clones.received(answer(logout1, 200, {{"Set-Cookie", "sid=; Max-Age=0; Path=/"}, {"Set-Cookie", "lang=fr"}}, ""),
                  kNow);
  CHECK(*clones.prepare(as_clone(home, 1), false, kNow).wire == request("GET /", {"Cookie: theme=dark"}));
}

TEST_CASE("clone rewrites change header, query and cookie values and {clone} in the head only",
          "[replay][correlation][clones]") {
  CorrelationSettings settings;
  for (const char* text : {"header:X-User-Id", "query:user", "cookie:uid"})
    settings.clone_rewrites.push_back(parse_clone_rewrite(text).value());
  Trace trace(settings);
  const auto t = trace.add(request("POST /profile?user=alice&lang=en",
                                   {"X-User-Id: alice", "X-Run: r-{clone}", "Cookie: uid=alice; theme=dark"},
                                   "note={clone}"));
  REQUIRE(t.correlation);
  CHECK(t.correlation->clone_placeholder);
  CHECK(t.correlation->clone_fields);

  SessionClones clones(settings);
  const auto p3 = clones.prepare(as_clone(t, 3), false, kNow);
  CHECK(flags(p3) == 0);
  CHECK(*p3.wire == request("POST /profile?user=alice-3&lang=en",
                            {"X-User-Id: alice-3", "X-Run: r-3", "Cookie: uid=alice-3; theme=dark"}, "note={clone}"));
  const auto p0 = clones.prepare(as_clone(t, 0), false, kNow);
  CHECK(*p0.wire == request("POST /profile?user=alice&lang=en",
                            {"X-User-Id: alice", "X-Run: r-0", "Cookie: uid=alice; theme=dark"}, "note={clone}"));

  CorrelationSettings templated;
  templated.clone_rewrites.push_back(parse_clone_rewrite("header:X-User-Id=u{clone}").value());
  Trace trace2(templated);
  const auto t2 = trace2.add(request("GET /me", {"x-user-id: alice"}));
  SessionClones clones2(templated);
  CHECK(*clones2.prepare(as_clone(t2, 0), false, kNow).wire == request("GET /me", {"x-user-id: u0"}));
}

TEST_CASE("a value the recording sent percent-encoded in a query is substituted percent-encoded",
          "[replay][correlation][clones]") {
  Login t({}, kPlusRecorded);
  const auto search = t.trace->add(request("GET /search?t=ab%2Bcd%2Fef%3Dgh12345678XY&q=1", {}));
  REQUIRE(search.correlation->needs.size() == 1);
  CHECK(search.correlation->needs[0].encoded);
  SessionClones clones(t.settings);
  clones.received(answer(as_clone(t.login, 0), 200, {}, token_json(kPlusReplayed)), kNow);
  const auto p = clones.prepare(as_clone(search, 0), false, kNow);
  CHECK(flags(p) == kSubstituted);
  CHECK(*p.wire == request("GET /search?t=zz%2Byy%2Fxx%3Dww0987654321QR&q=1", {}));
}

TEST_CASE("a value sent both as is and percent-encoded in one request is replaced in both forms",
          "[replay][correlation][clones]") {
  Login t({}, kPlusRecorded);
  const auto both = t.trace->add(request("GET /cb?t=" + percent_encode(kPlusRecorded), {"X-Token: " + kPlusRecorded}));
  SessionClones clones(t.settings);
  clones.received(answer(as_clone(t.login, 0), 200, {}, token_json(kPlusReplayed)), kNow);
  CHECK(*clones.prepare(as_clone(both, 0), false, kNow).wire ==
        request("GET /cb?t=" + percent_encode(kPlusReplayed), {"X-Token: " + kPlusReplayed}));
}

TEST_CASE("past max_clones the clone used longest ago is forgotten and counted",
          "[replay][correlation][clones]") {
  Login t;
  t.settings.max_clones = 2;
  SessionClones clones(t.settings);
  for (std::uint32_t k : {0u, 1u, 2u}) clones.expect(as_clone(t.login, k).session_key(), t.login.exchange_id);
  CHECK(clones.clones() == 2);
  CHECK(clones.totals().clones_forgotten == 1);
  // Clone 0 was forgotten with its producer in flight: a miss, not a wait. Clone 2 still waits.
  CHECK(flags(clones.prepare(as_clone(t.cart, 0), false, kNow)) == kMissed);
  CHECK(clones.prepare(as_clone(t.cart, 2), false, kNow).wait);
}

TEST_CASE("totals() counts per rule: learned, substituted, waits, timeouts and misses",
          "[replay][correlation][clones]") {
  Login t({rule("json:$.token"), rule("header:X-Csrf", true)});
  SessionClones clones(t.settings);
  const auto login = as_clone(t.login, 0);
  clones.expect(login.session_key(), login.request.exchange_id);
  CHECK(clones.prepare(as_clone(t.cart, 0), false, kNow).wait);                   // waits 1
  CHECK(flags(clones.prepare(as_clone(t.cart, 0), true, kNow)) == kTimedOut);     // timeouts 1
  CHECK(flags(clones.prepare(as_clone(t.cart, 1), false, kNow)) == kMissed);      // misses 1
  clones.received(answer(login, 200, {{"X-Csrf", "unused-but-learned-1234"}}, token_json(kReplay0)), kNow);
  CHECK(flags(clones.prepare(as_clone(t.cart, 0), false, kNow)) == kSubstituted);  // substituted 2

  const auto totals = clones.totals();
  REQUIRE(totals.rules.size() == 2);
  CHECK(totals.rules[0].rule == "json:$.token");
  CHECK_FALSE(totals.rules[0].automatic);
  CHECK(totals.rules[0].learned == 1);
  CHECK(totals.rules[0].substituted == 2);
  CHECK(totals.rules[0].waits == 1);
  CHECK(totals.rules[0].timeouts == 1);
  CHECK(totals.rules[0].misses == 1);
  CHECK(totals.rules[1].rule == "header:X-Csrf");
  CHECK(totals.rules[1].automatic);
  CHECK(totals.rules[1].learned == 1);
}

TEST_CASE("a value a clone never received is counted as one miss even when its request waited for another",
          "[replay][correlation][clones]") {
  CorrelationSettings settings;
  settings.rules = {rule("json:$.token"), rule("json:$.csrf")};
  Trace trace(settings);
  trace.add(request("POST /login", {}, "u=a"), {}, token_json(kRecorded));  // never replayed below
  const auto form = as_clone(trace.add(request("GET /form", {}), {}, "{\"csrf\":\"csrfT0ken9876543210\"}"), 0);
  const auto post =
      as_clone(trace.add(request("POST /cart", {"Authorization: Bearer " + kRecorded, "X-Csrf: csrfT0ken9876543210"})), 0);
  REQUIRE(post.request.correlation->needs.size() == 2);

  SessionClones clones(settings);
  // The login was never replayed for this clone (a miss); the form is in flight (a wait).
  clones.expect(form.session_key(), form.request.exchange_id);
  CHECK(clones.prepare(post, false, kNow).wait);
  clones.received(answer(form, 200, {}, "{\"csrf\":\"newCsrf0123456789\"}"), kNow);
  const auto p = clones.prepare(post, false, kNow);
  CHECK(flags(p) == (kMissed | kSubstituted));
  CHECK(*p.wire == request("POST /cart", {"Authorization: Bearer " + kRecorded, "X-Csrf: newCsrf0123456789"}));
  const auto totals = clones.totals();
  CHECK(totals.rules[0].misses == 1);
  CHECK(totals.rules[1].waits == 1);
  CHECK(totals.rules[1].substituted == 1);
}

TEST_CASE("a request that waits for two producers in turn is counted as one wait",
          "[replay][correlation][clones]") {
  CorrelationSettings settings;
  settings.rules = {rule("json:$.token"), rule("json:$.csrf")};
  Trace trace(settings);
  const auto login = as_clone(trace.add(request("POST /login", {}, "u=a"), {}, token_json(kRecorded)), 0);
  const auto form = as_clone(trace.add(request("GET /form", {}), {}, "{\"csrf\":\"csrfT0ken9876543210\"}"), 0);
  auto post =
      as_clone(trace.add(request("POST /cart", {"Authorization: Bearer " + kRecorded, "X-Csrf: csrfT0ken9876543210"})), 0);

  SessionClones clones(settings);
  clones.expect(login.session_key(), login.request.exchange_id);
  clones.expect(form.session_key(), form.request.exchange_id);
  CHECK(clones.prepare(post, false, kNow).wait);
  post.correlation_flags |= kWaited;  // as the engine marks it
  clones.received(answer(login, 200, {}, token_json(kReplay0)), kNow);
  const auto again = clones.prepare(post, false, kNow);
  CHECK(again.wait);
  CHECK(again.producer == form.request.exchange_id);
  const auto totals = clones.totals();
  CHECK(totals.rules[0].waits + totals.rules[1].waits == 1);
}

TEST_CASE("when a clone's token refresh fails, it sends the token its login gave it, not the recorded one",
          "[replay][correlation][clones]") {
  const std::string rotated = "r0tatedT0kenFromRefresh4567890";
  CorrelationSettings settings;
  settings.rules = {rule("json:$.token")};
  Trace trace(settings);
  const auto login = as_clone(trace.add(request("POST /login", {}, "u=a"), {}, token_json(kRecorded)), 1);
  const auto refresh = as_clone(
      trace.add(request("POST /refresh", {"Authorization: Bearer " + kRecorded}), {}, token_json(rotated)), 1);
  const auto orders = as_clone(trace.add(request("GET /orders", {"Authorization: Bearer " + rotated})), 1);
  REQUIRE(orders.request.correlation->needs.size() == 1);

  SessionClones clones(settings);
  clones.received(answer(login, 200, {}, token_json(kReplay1)), kNow);
  clones.expect(refresh.session_key(), refresh.request.exchange_id);
  // In flight past the timeout: the clone's login token, flagged timed out.
  auto p = clones.prepare(orders, true, kNow);
  CHECK(flags(p) == (kTimedOut | kSubstituted));
  CHECK(*p.wire == request("GET /orders", {"Authorization: Bearer " + kReplay1}));
  // Failed: the same, flagged missed.
  clones.received(answer(refresh, 500, {}, "{}"), kNow);
  p = clones.prepare(orders, false, kNow);
  CHECK(flags(p) == (kMissed | kSubstituted));
  CHECK(*p.wire == request("GET /orders", {"Authorization: Bearer " + kReplay1}));
  // A clone with no token of that kind at all sends the recorded value.
  const auto p2 = clones.prepare(as_clone(orders.request, 2), false, kNow);
  CHECK(flags(p2) == kMissed);
  CHECK(*p2.wire == *orders.request.wire);
}

TEST_CASE("clone state is bounded in bytes: the clones used longest ago are forgotten, long values not kept",
          "[replay][correlation][clones]") {
  Login t;
  t.settings.max_clone_bytes = 16 * 1024;
  t.settings.max_value_bytes = 600;
  SessionClones clones(t.settings);
  // Each clone's login returns a 500-byte token: about 700 bytes of state per clone.
  auto token_of = [](std::uint32_t k) { return std::string(480, 'a') + "T0ken" + std::to_string(100000 + k); };
  for (std::uint32_t k = 0; k < 100; ++k)
    clones.received(answer(as_clone(t.login, k), 200, {}, token_json(token_of(k))), kNow);
  const auto totals = clones.totals();
  CHECK(totals.clones_forgotten > 50);
  CHECK(clones.clones() < 50);
  // The latest clone still sends its own token; the first, forgotten, sends the recorded one.
  CHECK(clones.prepare(as_clone(t.cart, 99), false, kNow).wire->find(token_of(99)) != std::string::npos);
  const auto first = clones.prepare(as_clone(t.cart, 0), false, kNow);
  CHECK(flags(first) == kMissed);
  CHECK(*first.wire == *t.cart.wire);

  // A value longer than max_value_bytes is not learned: counted as rejected.
  clones.received(answer(as_clone(t.login, 200), 200, {}, token_json(std::string(700, 'b') + "1")), kNow);
  CHECK(clones.totals().rules[0].rejected == 1);
  CHECK(flags(clones.prepare(as_clone(t.cart, 200), false, kNow)) == kMissed);
}

// ---- review fixes -----------------------------------------------------------------------------

TEST_CASE("only identifiers are followed, whatever rule found them: a redirect's '1' is not",
          "[replay][correlation][clones]") {
  // `location` follows path segments and query values; /cart?step=1 hands out "cart" and "1",
  // and "1" occurs in every later request ("HTTP/1.1"): replacing it broke the framing.
  CorrelationSettings s;
  s.rules.push_back(rule("location"));
  Trace trace(s);
  trace.add(request("GET /checkout", {}), {{"Location", "/cart?step=1"}});
  const TraceRequest next = trace.add(request("POST /cart?step=1", {}, "qty=1"));
  CHECK(next.correlation->needs.empty());
  CHECK(trace.tracker_.stats().values_not_identifiers == 2);
}

TEST_CASE("a recorded value inside a longer one is replaced after it, not within it",
          "[replay][correlation][clones]") {
  // A uid inside a signed session token (Django's TimestampSigner: "<uid>:<stamp>:<signature>").
  const std::string uid = "u8f3k2m9Qx", session = uid + ":1pQx7A:Zk3r9Vb2Lw";
  const std::string uid2 = "w1n2e3r4Zz", session2 = uid2 + ":9yYt5B:Pp0o9I8u7Y";
  Login t({rule("json:$.uid"), rule("json:$.session")});
  Trace& trace = *t.trace;
  const TraceRequest who = trace.add(request("GET /me", {}), {{"Content-Type", "application/json"}},
                                     "{\"uid\":\"" + uid + "\",\"session\":\"" + session + "\"}");
  const TraceRequest use = trace.add(request("GET /orders?u=" + uid, {"X-Session: " + session}));
  SessionClones clones(t.settings);
  const ScheduledRequest w = as_clone(who, 1);
  clones.expect(w.session_key(), w.request.exchange_id);
  clones.received(answer(w, 200, {{"Content-Type", "application/json"}},
                         "{\"uid\":\"" + uid2 + "\",\"session\":\"" + session2 + "\"}"),
                  kNow);
  const auto p = clones.prepare(as_clone(use, 1), false, kNow);
  CHECK(*p.wire == request("GET /orders?u=" + uid2, {"X-Session: " + session2}));
}

TEST_CASE("a long list of one rule's values does not push out another rule's token",
          "[replay][correlation][clones]") {
  Login t({rule("json:$.token"), rule("json:$.items[*].id")});
  t.settings.max_values_per_session = 8;
  Trace trace(t.settings);
  const TraceRequest login = trace.add(request("POST /login", {}, "user=alice"),
                                       {{"Content-Type", "application/json"}}, token_json(kRecorded));
  std::string items = "{\"items\":[";
  for (int i = 0; i < 20; ++i) items += std::string(i ? "," : "") + "{\"id\":\"item" + std::to_string(i) + "x9Qz7Wk\"}";
  items += "]}";
  const TraceRequest products = trace.add(request("GET /products", {"Authorization: Bearer " + kRecorded}),
                                          {{"Content-Type", "application/json"}}, items);
  const TraceRequest cart = trace.add(Login::cart_wire(kRecorded));
  REQUIRE(cart.correlation->needs.size() == 1);  // the token still followed in the trace
  CHECK(trace.tracker_.stats().values_forgotten > 0);

  // The clone: the same, its login first, then the long list.
  SessionClones clones(t.settings);
  const ScheduledRequest l = as_clone(login, 1);
  clones.expect(l.session_key(), l.request.exchange_id);
  clones.received(answer(l, 200, {{"Content-Type", "application/json"}}, token_json(kReplay1)), kNow);
  const ScheduledRequest pr = as_clone(products, 1);
  clones.expect(pr.session_key(), pr.request.exchange_id);
  clones.received(answer(pr, 200, {{"Content-Type", "application/json"}}, items), kNow);
  const auto p = clones.prepare(as_clone(cart, 1), false, kNow);
  CHECK(*p.wire == Login::cart_wire(kReplay1));
  CHECK(clones.totals().values_forgotten > 0);
}

TEST_CASE("a learned value with CR or LF is not written into a request", "[replay][correlation][clones]") {
  Login t;
  SessionClones clones(t.settings);
  const ScheduledRequest login = as_clone(t.login, 1);
  clones.expect(login.session_key(), login.request.exchange_id);
  clones.received(answer(login, 200, {{"Content-Type", "application/json"}},
                         "{\"token\":\"evil\\r\\nX-Injected: 1\"}"),
                  kNow);
  const auto p = clones.prepare(as_clone(t.cart, 1), false, kNow);
  CHECK(p.wire->find("X-Injected") == std::string::npos);
  CHECK(flags(p) == kMissed);
  CHECK(clones.totals().rules.at(0).rejected == 1);
}
