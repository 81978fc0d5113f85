// Prints std::optional<std::string> reasons in failed CHECKs.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>
#include <initializer_list>
#include <cstdint>
#include <string>
#include <vector>

#include "reprise/replay/abort_rules.hpp"
#include "reprise/replay/error.hpp"

using namespace reprise::replay;
using Metric = AbortRule::Metric;

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

AbortRule rule(const char* text) {
  auto r = parse_abort_rule(text);
  INFO(text << ": " << (r.ok() ? std::string() : r.error().message()));
  REQUIRE(r.ok());
  return *r;
}

std::vector<AbortRule> rules(std::initializer_list<const char*> texts) {
  std::vector<AbortRule> out;
  for (const char* t : texts) out.push_back(rule(t));
  return out;
}

// A 200 that ended at `done`, `took` after it was sent, `late` after it was due.
OutcomeFacts ok_at(std::int64_t done, std::int64_t took = 10 * kMs, std::int64_t late = 0) {
  OutcomeFacts o;
  o.done_ns = done;
  o.sent_ns = done - took;
  o.intended_ns = o.sent_ns - late;
  o.first_byte_ns = o.sent_ns + took / 2;
  o.status = 200;
  o.bytes_sent = 100;
  return o;
}

OutcomeFacts error_at(std::int64_t done, OutcomeError error) {
  OutcomeFacts o;
  o.done_ns = done;
  o.intended_ns = done - 100 * kMs;
  if (error != OutcomeError::Connect && error != OutcomeError::Shed) o.sent_ns = o.intended_ns;
  o.error = error;
  return o;
}

OutcomeFacts status_at(std::int64_t done, std::uint16_t status) {
  auto o = ok_at(done);
  o.status = status;
  return o;
}

void add_n(AbortGuard& g, int n, const OutcomeFacts& o) {
  for (int i = 0; i < n; ++i) g.add(o);
}

// The error's full text, checked for the syntax reminder every parse error must carry.
std::string parse_error(const char* text) {
  auto r = parse_abort_rule(text);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == make_error_code(errc::bad_rule));
  CHECK(r.error().where == "--abort-on");
  const std::string message = r.error().message();
  CHECK_THAT(message, Catch::Contains("METRIC>THRESHOLD/WINDOW"));
  CHECK_THAT(message, Catch::Contains(std::string("'") + text + "'"));
  return message;
}

}  // namespace

TEST_CASE("abort rules parse every metric of the syntax", "[replay][abort]") {
  struct Case {
    const char* text;
    Metric metric;
    double percentile;
    bool share;
    double threshold;
    std::int64_t window_ns;
  };
  const Case cases[] = {
      {"errors>20%/10s", Metric::Errors, 0, true, 0.2, 10 * kS},
      {"errors>100/10s", Metric::Errors, 0, false, 100, 10 * kS},
      {"p99>2s/30s", Metric::Latency, 99, false, 2e9, 30 * kS},
      {"p99.9>250ms/1m", Metric::Latency, 99.9, false, 250e6, 60 * kS},
      {"p50>100ms/5s", Metric::Latency, 50, false, 100e6, 5 * kS},
      {"corrected_p99>5s/30s", Metric::CorrectedLatency, 99, false, 5e9, 30 * kS},
      {"corrected_p99.99>5s/30s", Metric::CorrectedLatency, 99.99, false, 5e9, 30 * kS},
      {"lateness_p99>1s/10s", Metric::Lateness, 99, false, 1e9, 10 * kS},
      {"lateness_p100>1s/10s", Metric::Lateness, 100, false, 1e9, 10 * kS},
      {"connect_failures>50/5s", Metric::ConnectFailures, 0, false, 50, 5 * kS},
      {"connect_failures>5%/5s", Metric::ConnectFailures, 0, true, 0.05, 5 * kS},
      {"shed>1%/10s", Metric::Shed, 0, true, 0.01, 10 * kS},
      {"shed>10/10s", Metric::Shed, 0, false, 10, 10 * kS},
      {"timeouts>5%/10s", Metric::Timeouts, 0, true, 0.05, 10 * kS},
      {"timeouts>0/1s", Metric::Timeouts, 0, false, 0, 1 * kS},
      {"errors>0.5%/10m", Metric::Errors, 0, true, 0.005, 600 * kS},
      {"errors>100%/10s", Metric::Errors, 0, true, 1.0, 10 * kS},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const AbortRule r = rule(c.text);
    CHECK(r.metric == c.metric);
    CHECK(r.percentile == Approx(c.percentile));
    CHECK(r.share == c.share);
    CHECK(r.threshold == Approx(c.threshold));
    CHECK(r.window_ns == c.window_ns);
    CHECK(r.text == c.text);
  }
}

TEST_CASE("abort rule windows are rounded up to whole seconds", "[replay][abort]") {
  CHECK(rule("errors>1/500ms").window_ns == kS);
  CHECK(rule("errors>1/1ns").window_ns == kS);
  CHECK(rule("errors>1/1.5s").window_ns == 2 * kS);
  CHECK(rule("errors>1/2500ms").window_ns == 3 * kS);
  CHECK(rule("errors>1/600s").window_ns == 600 * kS);
}

TEST_CASE("abort rules allow spaces around the operators", "[replay][abort]") {
  const AbortRule r = rule("  errors > 20% / 10s ");
  CHECK(r.metric == Metric::Errors);
  CHECK(r.share);
  CHECK(r.threshold == Approx(0.2));
  CHECK(r.window_ns == 10 * kS);
  CHECK(r.text == "errors > 20% / 10s");
}

TEST_CASE("abort rule errors say what is wrong and show the syntax", "[replay][abort]") {
  using Catch::Contains;
  CHECK_THAT(parse_error("errors>20%"), Contains("missing window"));
  CHECK_THAT(parse_error("errors>20%/"), Contains("missing window"));
  CHECK_THAT(parse_error("latency>2s/10s"), Contains("unknown metric 'latency'"));
  CHECK_THAT(parse_error("latency>2s/10s"), Contains("connect_failures"));
  CHECK_THAT(parse_error("p>2s/10s"), Contains("unknown metric 'p'"));
  CHECK_THAT(parse_error("p0>2s/10s"), Contains("unknown metric"));
  CHECK_THAT(parse_error("p101>2s/10s"), Contains("unknown metric"));
  CHECK_THAT(parse_error("p99.>2s/10s"), Contains("unknown metric"));
  CHECK_THAT(parse_error("p9x>2s/10s"), Contains("unknown metric"));
  CHECK_THAT(parse_error("corrected_errors>2/10s"), Contains("unknown metric"));
  CHECK_THAT(parse_error("Errors>2/10s"), Contains("unknown metric"));
  CHECK_THAT(parse_error("errors>-5/10s"), Contains("must not be negative"));
  CHECK_THAT(parse_error("errors>-5%/10s"), Contains("must not be negative"));
  CHECK_THAT(parse_error("p99>-1s/10s"), Contains("must not be negative"));
  CHECK_THAT(parse_error("errors>5/-10s"), Contains("window must not be negative"));
  CHECK_THAT(parse_error("errors>5/0s"), Contains("at least 1s"));
  CHECK_THAT(parse_error("errors>5/0"), Contains("at least 1s"));
  CHECK_THAT(parse_error("errors>5/11m"), Contains("at most 10m"));
  CHECK_THAT(parse_error("errors>5/601s"), Contains("at most 10m"));
  CHECK_THAT(parse_error("errors>5/1h"), Contains("at most 10m"));
  CHECK_THAT(parse_error("errors>5/10x"), Contains("bad window '10x'"));
  CHECK_THAT(parse_error("p99>20%/10s"), Contains("not a share"));
  CHECK_THAT(parse_error("p99>fast/10s"), Contains("bad latency threshold 'fast'"));
  CHECK_THAT(parse_error("errors>2s/10s"), Contains("expected a count such as 100"));
  CHECK_THAT(parse_error("errors>2.5/10s"), Contains("expected a count"));
  CHECK_THAT(parse_error("errors>150%/10s"), Contains("cannot exceed 100%"));
  CHECK_THAT(parse_error("errors>x%/10s"), Contains("bad share 'x%'"));
  CHECK_THAT(parse_error("errors<5/10s"), Contains("only '>'"));
  CHECK_THAT(parse_error("errors>=5/10s"), Contains("'>=' is not supported"));
  CHECK_THAT(parse_error("errors/10s"), Contains("missing '>'"));
  CHECK_THAT(parse_error(">5/10s"), Contains("missing metric"));
  CHECK_THAT(parse_error("errors>/10s"), Contains("missing threshold"));
  CHECK_THAT(parse_error(""), Contains("empty rule"));
  // The message starts with the flag and the error category, like every reprise error.
  CHECK_THAT(parse_error("errors>5"), Catch::StartsWith("--abort-on: bad abort rule: "));
}

TEST_CASE("default abort rules are the four documented ones", "[replay][abort]") {
  const auto defaults = default_abort_rules();
  REQUIRE(defaults.size() == 4);
  CHECK(defaults[0].text == "errors>20%/10s");
  CHECK(defaults[0].metric == Metric::Errors);
  CHECK(defaults[0].share);
  CHECK(defaults[1].text == "p99>2s/30s");
  CHECK(defaults[1].metric == Metric::Latency);
  CHECK(defaults[2].text == "lateness_p99>1s/10s");
  CHECK(defaults[2].metric == Metric::Lateness);
  CHECK(defaults[3].text == "connect_failures>50/5s");
  CHECK(defaults[3].metric == Metric::ConnectFailures);
  CHECK_FALSE(defaults[3].share);
}

TEST_CASE("abort guard with nothing recorded does not fire", "[replay][abort]") {
  AbortGuard g(default_abort_rules());
  CHECK_FALSE(g.check(0));
  CHECK_FALSE(g.check(100 * kS));
  CHECK(g.rules().size() == 4);
}

TEST_CASE("abort guard error share fires exactly when the window crosses the threshold",
          "[replay][abort]") {
  AbortGuard g(rules({"errors>20%/10s"}));
  add_n(g, 16, ok_at(5 * kS + 100 * kMs));
  add_n(g, 4, status_at(5 * kS + 200 * kMs, 503));
  CHECK_FALSE(g.check(5 * kS + 300 * kMs));  // exactly 20 %: not above
  g.add(error_at(5 * kS + 400 * kMs, OutcomeError::Reset));
  const auto reason = g.check(5 * kS + 500 * kMs);
  REQUIRE(reason);
  CHECK(*reason == "errors>20%/10s: 23.8% of 21 outcomes in the last 10s");
}

TEST_CASE("abort guard ratio rules wait for min_samples, count rules do not",
          "[replay][abort]") {
  SECTION("ten failures of ten are not a 100 % error rate yet") {
    AbortGuard g(rules({"errors>20%/10s"}));
    add_n(g, 19, error_at(kS, OutcomeError::Timeout));
    CHECK_FALSE(g.check(kS));
    g.add(error_at(kS, OutcomeError::Timeout));
    const auto reason = g.check(kS);
    REQUIRE(reason);
    CHECK(*reason == "errors>20%/10s: 100% of 20 outcomes in the last 10s");
  }
  SECTION("min_samples is configurable") {
    AbortGuard g(rules({"errors>20%/10s"}), 3);
    add_n(g, 2, error_at(kS, OutcomeError::Timeout));
    CHECK_FALSE(g.check(kS));
    g.add(ok_at(kS));
    CHECK(g.check(kS));
  }
  SECTION("once the run is a window old, ten samples are enough") {
    // 1 failure a second: 20 outcomes never fit in the 10 s window.
    AbortGuard young(rules({"errors>20%/10s"}));
    for (int s = 0; s < 10; ++s) young.add(error_at(s * kS + 100 * kMs, OutcomeError::Timeout));
    CHECK_FALSE(young.check(9 * kS + 500 * kMs));  // 10, but the run is not 10 s old
    AbortGuard g(rules({"errors>20%/10s"}));
    for (int s = 1; s < 10; ++s) g.add(error_at(s * kS + 100 * kMs, OutcomeError::Timeout));
    CHECK_FALSE(g.check(10 * kS));  // 9 in the window
    g.add(error_at(10 * kS + 100 * kMs, OutcomeError::Timeout));
    const auto reason = g.check(10 * kS + 200 * kMs);
    REQUIRE(reason);
    CHECK(*reason == "errors>20%/10s: 100% of 10 outcomes in the last 10s");
    AbortGuard slow(rules({"p99>2s/10s"}));
    for (int s = 1; s <= 10; ++s) slow.add(ok_at(s * kS + 100 * kMs, 3 * kS));
    CHECK(slow.check(10 * kS + 200 * kMs));
  }
  SECTION("a count rule fires on the count alone") {
    AbortGuard g(rules({"errors>5/10s"}));
    add_n(g, 5, error_at(kS, OutcomeError::Connect));
    CHECK_FALSE(g.check(kS));
    g.add(status_at(kS, 500));
    const auto reason = g.check(kS);
    REQUIRE(reason);
    CHECK(*reason == "errors>5/10s: 6 failed outcomes in the last 10s");
  }
}

TEST_CASE("abort guard percentile rules wait for min_samples responses", "[replay][abort]") {
  AbortGuard g(rules({"p99>2s/30s"}));
  // Failures carry no latency: they do not make a slow response a p99.
  add_n(g, 50, error_at(2 * kS, OutcomeError::Timeout));
  add_n(g, 19, ok_at(2 * kS, 3 * kS));
  CHECK_FALSE(g.check(2 * kS));
  g.add(ok_at(2 * kS, 3 * kS));
  const auto reason = g.check(2 * kS);
  REQUIRE(reason);
  CHECK(*reason == "p99>2s/30s: p99 was 3.000 s over 20 responses in the last 30s");
}

TEST_CASE("abort guard p99 fires on the second slow response of a hundred fast ones",
          "[replay][abort]") {
  AbortGuard g(rules({"p99>2s/30s"}));
  add_n(g, 100, ok_at(10 * kS, 100 * kMs));
  g.add(ok_at(11 * kS, 5 * kS));
  // 101 values: rank ceil(99.99) = 100 is still a fast one.
  CHECK_FALSE(g.check(11 * kS));
  g.add(ok_at(12 * kS, 5 * kS));
  // 102 values: rank ceil(100.98) = 101 is slow.
  const auto reason = g.check(12 * kS);
  REQUIRE(reason);
  CHECK_THAT(*reason, Catch::StartsWith("p99>2s/30s: p99 was 5.000 s over 102 responses"));
}

TEST_CASE("abort guard latency rules read their own histogram", "[replay][abort]") {
  // Fast service, but sent 3 s late: the user waited 3 s.
  AbortGuard g(rules({"p99>2s/30s", "corrected_p99>2s/30s", "lateness_p99>5s/30s"}));
  add_n(g, 30, ok_at(20 * kS, 10 * kMs, 3 * kS));
  const auto reason = g.check(20 * kS);
  REQUIRE(reason);
  CHECK_THAT(*reason, Catch::StartsWith("corrected_p99>2s/30s: corrected p99 was 3.010 s"));

  AbortGuard late(rules({"p99>2s/30s", "lateness_p99>1s/10s"}));
  add_n(late, 30, ok_at(20 * kS, 10 * kMs, 3 * kS));
  const auto lateness = late.check(20 * kS);
  REQUIRE(lateness);
  CHECK(*lateness == "lateness_p99>1s/10s: lateness p99 was 3.000 s over 30 requests in the "
                     "last 10s");

  AbortGuard p999(rules({"p99.9>1s/10s"}));
  add_n(p999, 998, ok_at(20 * kS, 10 * kMs));
  add_n(p999, 2, ok_at(20 * kS, 2 * kS));
  // rank ceil(999) = 999: the first slow one.
  const auto tail = p999.check(20 * kS);
  REQUIRE(tail);
  CHECK_THAT(*tail, Catch::StartsWith("p99.9>1s/10s: p99.9 was 2.000 s"));
}

TEST_CASE("abort guard counts connect failures, shed and timeouts", "[replay][abort]") {
  SECTION("connect failures as a count") {
    AbortGuard g(rules({"connect_failures>3/5s"}));
    add_n(g, 3, error_at(kS, OutcomeError::Connect));
    add_n(g, 10, error_at(kS, OutcomeError::Timeout));
    CHECK_FALSE(g.check(kS));
    g.add(error_at(kS, OutcomeError::Connect));
    CHECK(g.check(kS) == "connect_failures>3/5s: 4 connect failures in the last 5s");
  }
  SECTION("shed as a share: shed is not an error") {
    AbortGuard g(rules({"errors>20%/10s", "shed>40%/10s"}));
    add_n(g, 20, ok_at(kS));
    add_n(g, 20, error_at(kS, OutcomeError::Shed));
    CHECK(g.check(kS) == "shed>40%/10s: 50% of 40 outcomes in the last 10s");
  }
  SECTION("timeouts as a share and as a count") {
    AbortGuard share(rules({"timeouts>10%/10s"}));
    add_n(share, 90, ok_at(kS));
    add_n(share, 10, error_at(kS, OutcomeError::Timeout));
    CHECK_FALSE(share.check(kS));
    share.add(error_at(kS, OutcomeError::Timeout));
    CHECK(share.check(kS) == "timeouts>10%/10s: 10.9% of 101 outcomes in the last 10s");

    AbortGuard count(rules({"timeouts>0/10s"}));
    add_n(count, 10, error_at(kS, OutcomeError::Reset));
    CHECK_FALSE(count.check(kS));
    count.add(error_at(kS, OutcomeError::Timeout));
    CHECK(count.check(kS) == "timeouts>0/10s: 1 timeouts in the last 10s");
  }
  SECTION("shed as a count") {
    AbortGuard g(rules({"shed>2/10s"}));
    add_n(g, 3, error_at(kS, OutcomeError::Shed));
    CHECK(g.check(kS) == "shed>2/10s: 3 shed requests in the last 10s");
  }
}

TEST_CASE("abort guard returns the first rule that holds", "[replay][abort]") {
  AbortGuard g(rules({"timeouts>100/10s", "errors>5/10s", "errors>1/10s"}));
  add_n(g, 10, error_at(kS, OutcomeError::Reset));
  CHECK(g.check(kS) == "errors>5/10s: 10 failed outcomes in the last 10s");
}

TEST_CASE("abort guard lets old seconds slide out of the window", "[replay][abort]") {
  AbortGuard g(rules({"errors>10/5s"}));
  add_n(g, 11, error_at(0 * kS + 900 * kMs, OutcomeError::Reset));
  CHECK(g.check(kS / 2 + 500 * kMs));
  // The window is the 5 seconds up to and including the current one: 0..4, then 1..5.
  CHECK(g.check(5 * kS - 1));
  CHECK_FALSE(g.check(5 * kS));

  add_n(g, 6, error_at(7 * kS + 1, OutcomeError::Reset));
  CHECK_FALSE(g.check(7 * kS + 2));
  add_n(g, 5, error_at(11 * kS + 999'999'999, OutcomeError::Reset));
  CHECK(g.check(11 * kS + 999'999'999) == "errors>10/5s: 11 failed outcomes in the last 5s");
  // Second 7 leaves the window at second 12.
  CHECK_FALSE(g.check(12 * kS));
  CHECK_FALSE(g.check(100 * kS));
}

TEST_CASE("abort guard takes outcomes that arrive out of order within the window",
          "[replay][abort]") {
  AbortGuard g(rules({"errors>10/5s"}));
  add_n(g, 4, error_at(10 * kS, OutcomeError::Reset));
  add_n(g, 4, error_at(8 * kS, OutcomeError::Reset));  // before the oldest second held
  add_n(g, 2, error_at(9 * kS, OutcomeError::Reset));  // between
  add_n(g, 1, error_at(6 * kS, OutcomeError::Reset));  // the oldest second of the window
  CHECK(g.check(10 * kS) == "errors>10/5s: 11 failed outcomes in the last 5s");
  // Second 6 leaves the window at second 11.
  CHECK_FALSE(g.check(11 * kS));
}

TEST_CASE("abort guard ignores outcomes older than the longest window", "[replay][abort]") {
  AbortGuard g(rules({"errors>10/5s"}));
  g.add(error_at(10 * kS, OutcomeError::Reset));
  // Second 5 is out of every window once second 10 has been seen.
  add_n(g, 20, error_at(5 * kS + 500 * kMs, OutcomeError::Reset));
  add_n(g, 20, error_at(-3 * kS, OutcomeError::Reset));
  CHECK_FALSE(g.check(10 * kS));
  // A check at an earlier time than seen so far cannot bring them back.
  CHECK_FALSE(g.check(7 * kS));
}

TEST_CASE("abort guard keeps the longest window of all rules", "[replay][abort]") {
  AbortGuard g(rules({"errors>1000/2s", "timeouts>5/1m"}));
  add_n(g, 3, error_at(kS, OutcomeError::Timeout));
  add_n(g, 3, error_at(50 * kS, OutcomeError::Timeout));
  CHECK(g.check(60 * kS) == "timeouts>5/1m: 6 timeouts in the last 60s");
  CHECK_FALSE(g.check(61 * kS));
}

TEST_CASE("abort guard survives jumps longer than the window and before run time zero",
          "[replay][abort]") {
  AbortGuard g(rules({"errors>2/3s"}));
  add_n(g, 2, error_at(-kS / 2, OutcomeError::Reset));  // second -1
  g.add(error_at(kS / 2, OutcomeError::Reset));
  CHECK(g.check(kS / 2) == "errors>2/3s: 3 failed outcomes in the last 3s");
  // A jump of a day: nothing is left, and the deque does not fill a day of empty seconds.
  g.add(error_at(86'400 * kS, OutcomeError::Reset));
  CHECK_FALSE(g.check(86'400 * kS));
  add_n(g, 2, error_at(86'398 * kS, OutcomeError::Reset));
  CHECK(g.check(86'400 * kS) == "errors>2/3s: 3 failed outcomes in the last 3s");
  CHECK_FALSE(g.check(86'401 * kS));
}

TEST_CASE("abort guard with the default rules", "[replay][abort]") {
  AbortGuard g(default_abort_rules());
  for (int i = 0; i < 1000; ++i) g.add(ok_at(3 * kS + i * kMs, 20 * kMs));
  add_n(g, 50, error_at(3 * kS, OutcomeError::Connect));
  CHECK_FALSE(g.check(4 * kS));
  g.add(error_at(4 * kS, OutcomeError::Connect));
  CHECK(g.check(4 * kS) == "connect_failures>50/5s: 51 connect failures in the last 5s");
  // Once the connect failures leave the 5 s window, nothing holds.
  CHECK_FALSE(g.check(9 * kS));

  SECTION("a fifth of failures stops the run") {
    add_n(g, 300, status_at(10 * kS, 502));
    CHECK(g.check(10 * kS) == "errors>20%/10s: 26% of 1351 outcomes in the last 10s");
  }
}
