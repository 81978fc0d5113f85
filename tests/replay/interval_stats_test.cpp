#include <catch2/catch.hpp>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "reprise/replay/interval_stats.hpp"

using namespace reprise::replay;

namespace {

constexpr std::int64_t kMs = 1'000'000;

std::size_t idx(OutcomeError e) { return static_cast<std::size_t>(e); }

// A request intended at `intended`, sent `late` after, answered `took` after sending.
OutcomeFacts response(std::int64_t intended, std::int64_t late, std::int64_t took,
                      std::uint16_t status) {
  OutcomeFacts o;
  o.intended_ns = intended;
  o.sent_ns = intended + late;
  o.first_byte_ns = o.sent_ns + took / 2;
  o.done_ns = o.sent_ns + took;
  o.status = status;
  o.bytes_sent = 100;
  o.bytes_received = 1000;
  return o;
}

OutcomeFacts failure(OutcomeError error, bool sent) {
  OutcomeFacts o;
  o.intended_ns = 10 * kMs;
  o.sent_ns = sent ? 12 * kMs : 0;
  o.done_ns = 50 * kMs;
  o.error = error;
  o.bytes_sent = sent ? 80 : 0;
  return o;
}

bool same(const IntervalStats& a, const IntervalStats& b) {
  return a.outcomes == b.outcomes && a.sent == b.sent && a.failed == b.failed &&
         a.status_classes == b.status_classes && a.errors == b.errors &&
         a.bytes_sent == b.bytes_sent && a.bytes_received == b.bytes_received &&
         a.corrected.nonzero() == b.corrected.nonzero() &&
         a.service.nonzero() == b.service.nonzero() &&
         a.lateness.nonzero() == b.lateness.nonzero() && a.corrected.min() == b.corrected.min() &&
         a.service.max() == b.service.max() && a.lateness.max() == b.lateness.max();
}

}  // namespace

TEST_CASE("outcome failed means a transport error or a 5xx, not shed", "[replay][stats]") {
  CHECK_FALSE(response(0, 0, kMs, 200).failed());
  CHECK_FALSE(response(0, 0, kMs, 404).failed());
  CHECK(response(0, 0, kMs, 500).failed());
  CHECK(response(0, 0, kMs, 503).failed());
  CHECK(failure(OutcomeError::Connect, false).failed());
  CHECK(failure(OutcomeError::Timeout, true).failed());
  CHECK(failure(OutcomeError::Reset, true).failed());
  CHECK(failure(OutcomeError::Protocol, true).failed());
  CHECK(failure(OutcomeError::Aborted, true).failed());
  CHECK_FALSE(failure(OutcomeError::Shed, false).failed());
}

TEST_CASE("interval stats file a response under its status class and all three histograms",
          "[replay][stats]") {
  IntervalStats s;
  s.add(response(1000 * kMs, 3 * kMs, 20 * kMs, 200));
  CHECK(s.outcomes == 1);
  CHECK(s.sent == 1);
  CHECK(s.failed == 0);
  CHECK((s.status_classes == std::array<std::uint64_t, 6>{0, 0, 1, 0, 0, 0}));
  CHECK(s.errors[idx(OutcomeError::None)] == 1);
  CHECK(s.bytes_sent == 100);
  CHECK(s.bytes_received == 1000);
  REQUIRE(s.corrected.count() == 1);
  REQUIRE(s.service.count() == 1);
  REQUIRE(s.lateness.count() == 1);
  CHECK(s.corrected.min() == 23 * kMs);  // done - intended
  CHECK(s.service.min() == 20 * kMs);    // done - sent
  CHECK(s.lateness.min() == 3 * kMs);    // sent - intended
}

TEST_CASE("interval stats count every status class", "[replay][stats]") {
  IntervalStats s;
  for (int status : {101, 200, 204, 301, 304, 400, 404, 429, 500, 502, 503})
    s.add(response(0, 0, kMs, static_cast<std::uint16_t>(status)));
  CHECK((s.status_classes == std::array<std::uint64_t, 6>{0, 1, 2, 2, 3, 3}));
  CHECK(s.outcomes == 11);
  CHECK(s.failed == 3);
  // 5xx are complete responses: they have a latency.
  CHECK(s.service.count() == 11);
  CHECK(s.corrected.count() == 11);
}

TEST_CASE("interval stats file transport errors without latency", "[replay][stats]") {
  IntervalStats s;
  s.add(failure(OutcomeError::Connect, false));
  s.add(failure(OutcomeError::Timeout, true));
  s.add(failure(OutcomeError::Reset, true));
  s.add(failure(OutcomeError::Protocol, true));
  s.add(failure(OutcomeError::Aborted, true));
  CHECK(s.outcomes == 5);
  CHECK(s.failed == 5);
  CHECK(s.sent == 4);  // the connect failure never wrote its request
  CHECK(s.status_classes[0] == 5);
  CHECK((s.errors == std::array<std::uint64_t, kOutcomeErrorKinds>{0, 1, 1, 1, 1, 0, 1}));
  CHECK(s.corrected.empty());
  CHECK(s.service.empty());
  // Every sent request shows how late the generator was: 12 ms - 10 ms.
  CHECK(s.lateness.count() == 4);
  CHECK(s.lateness.max() == 2 * kMs);
  CHECK(s.bytes_sent == 4 * 80);
}

TEST_CASE("interval stats count a response that ended in an error as an error",
          "[replay][stats]") {
  // A status line arrived, then the connection was reset mid-body.
  IntervalStats s;
  auto o = response(0, kMs, 5 * kMs, 200);
  o.error = OutcomeError::Reset;
  s.add(o);
  CHECK(s.failed == 1);
  CHECK(s.status_classes[2] == 1);
  CHECK(s.errors[idx(OutcomeError::Reset)] == 1);
  CHECK(s.service.empty());
  CHECK(s.corrected.empty());
  CHECK(s.lateness.count() == 1);
}

TEST_CASE("interval stats file shed requests as lateness, not failure", "[replay][stats]") {
  IntervalStats s;
  OutcomeFacts o;
  o.intended_ns = 100 * kMs;
  o.done_ns = 350 * kMs;  // given up 250 ms after it was due
  o.error = OutcomeError::Shed;
  s.add(o);
  CHECK(s.outcomes == 1);
  CHECK(s.sent == 0);
  CHECK(s.failed == 0);
  CHECK(s.errors[idx(OutcomeError::Shed)] == 1);
  CHECK(s.status_classes[0] == 1);
  CHECK(s.service.empty());
  CHECK(s.corrected.empty());
  REQUIRE(s.lateness.count() == 1);
  CHECK(s.lateness.min() == 250 * kMs);
}

TEST_CASE("interval stats count a request sent early as zero lateness", "[replay][stats]") {
  IntervalStats s;
  s.add(response(10 * kMs, -kMs, 2 * kMs, 200));
  CHECK(s.lateness.max() == 0);
  CHECK(s.corrected.min() == kMs);
}

TEST_CASE("interval stats merge equals adding everything to one", "[replay][stats]") {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<std::int64_t> ms(0, 3000);
  IntervalStats a, b, all;
  a.start_ns = 0;
  a.duration_ns = 1'000'000'000;
  b.start_ns = 1'000'000'000;
  b.duration_ns = 1'000'000'000;
  for (int i = 0; i < 4000; ++i) {
    OutcomeFacts o;
    switch (kind(rng)) {
      case 0: o = failure(OutcomeError::Connect, false); break;
      case 1: o = failure(OutcomeError::Timeout, true); break;
      case 2: o = failure(OutcomeError::Shed, false); break;
      case 3: o = response(ms(rng) * kMs, ms(rng) * 1000, ms(rng) * kMs, 503); break;
      default: o = response(ms(rng) * kMs, ms(rng) * 1000, ms(rng) * kMs, 200); break;
    }
    (i % 3 == 0 ? a : b).add(o);
    all.add(o);
  }
  IntervalStats merged = a;
  merged.merge(b);
  CHECK(same(merged, all));
  CHECK(merged.outcomes == 4000);
  // The span covers both seconds.
  CHECK(merged.start_ns == 0);
  CHECK(merged.duration_ns == 2'000'000'000);

  SECTION("merging into a fresh interval takes the other's span") {
    IntervalStats fresh;
    fresh.merge(b);
    CHECK(fresh.start_ns == b.start_ns);
    CHECK(fresh.duration_ns == b.duration_ns);
    CHECK(same(fresh, b));
  }
  SECTION("clear keeps the span and forgets the rest") {
    merged.clear();
    CHECK(merged.start_ns == 0);
    CHECK(merged.duration_ns == 2'000'000'000);
    CHECK(same(merged, IntervalStats{}));
    CHECK(merged.lateness.empty());
  }
}
