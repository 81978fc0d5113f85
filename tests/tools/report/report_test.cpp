#include <catch2/catch.hpp>

#include "reprise/report/report.hpp"

using namespace reprise;
using namespace reprise::report;

namespace {

constexpr std::int64_t kMs = 1'000'000;

OutcomeView at(std::string_view target, std::int64_t intended_ns, std::int64_t late_ns, std::int64_t latency_ns,
               std::uint16_t status = 200, replay::OutcomeError error = replay::OutcomeError::None) {
  OutcomeView v;
  v.method = "GET";
  v.target = target;
  v.facts.intended_ns = intended_ns;
  v.facts.sent_ns = error == replay::OutcomeError::Shed ? 0 : intended_ns + late_ns;
  v.facts.bytes_sent = error == replay::OutcomeError::Shed ? 0 : 50;
  v.facts.done_ns = v.facts.sent_ns + latency_ns;
  if (error == replay::OutcomeError::Shed) v.facts.done_ns = intended_ns + late_ns;
  v.facts.status = status;
  v.facts.error = error;
  return v;
}

}  // namespace

TEST_CASE("a report counts per route, corrected and uncorrected, late and shed", "[report]") {
  ReportBuilder b;
  for (int i = 0; i < 100; ++i) b.add(at("/users/" + std::to_string(i), i * 10 * kMs, 0, 2 * kMs));
  for (int i = 0; i < 10; ++i) b.add(at("/slow", i * 100 * kMs, 50 * kMs, 20 * kMs));  // late by 50 ms
  b.add(at("/slow", 5 * kMs, 0, 3 * kMs, 503));
  b.add(at("/shed", 7 * kMs, 6000 * kMs, 0, 0, replay::OutcomeError::Shed));
  const RunSet none;
  const Report r = b.finish(none);

  CHECK(r.overall.stats.outcomes == 112);
  CHECK(r.overall.stats.sent == 111);
  CHECK(r.overall.stats.failed == 1);  // the 503; shed is not the target's failure
  CHECK(r.overall.stats.errors[static_cast<int>(replay::OutcomeError::Shed)] == 1);
  CHECK(r.overall.late == 10);
  REQUIRE(r.routes.size() == 3);
  CHECK(r.routes[0].route == "GET /users/{id}");  // most requests first
  CHECK(r.routes[0].tally.stats.outcomes == 100);
  CHECK(r.routes[1].route == "GET /slow");
  // Corrected latency counts the 50 ms the requests waited; uncorrected does not.
  const auto& slow = r.routes[1].tally.stats;
  CHECK(slow.corrected.percentile(50) >= 69 * kMs);
  CHECK(slow.service.percentile(50) <= 21 * kMs);
  CHECK(r.first_ns == 0);
  CHECK(r.last_ns == 7 * kMs + 6000 * kMs);
  CHECK(r.achieved_rate() == Approx(111.0 / 6.007));
}

TEST_CASE("the timeline has every second, empty ones included", "[report]") {
  ReportBuilder b;
  b.add(at("/a", 100 * kMs, 0, kMs));
  b.add(at("/a", 3100 * kMs, 0, kMs));
  b.add(at("/a", 3200 * kMs, 0, 9 * kMs, 500));
  const RunSet none;
  const Report r = b.finish(none);
  REQUIRE(r.seconds.size() == 4);
  CHECK(r.seconds[0].outcomes == 1);
  CHECK(r.seconds[1].outcomes == 0);
  CHECK(r.seconds[2].outcomes == 0);
  CHECK(r.seconds[3].outcomes == 2);
  CHECK(r.seconds[3].failed == 1);
  CHECK(r.seconds[3].start_ns == 3'000'000'000);
  CHECK(r.seconds[3].max_ns == 9 * kMs);
  CHECK(r.seconds[3].p50_ns >= kMs);
  CHECK(r.seconds[3].p50_ns < 2 * kMs);
}

TEST_CASE("outcomes merge in any order: two halves give the report of the whole", "[report]") {
  // Views point into the targets: keep them alive while the builders read them.
  std::vector<std::string> targets;
  for (int i = 0; i < 200; ++i) targets.push_back("/x/" + std::to_string(i));
  auto outcome = [&](int i) { return at(targets[static_cast<std::size_t>(i)], i * kMs, i % 7, (i % 13 + 1) * kMs); };
  ReportBuilder whole;
  for (int i = 0; i < 200; ++i) whole.add(outcome(i));
  const RunSet none;
  const Report w = whole.finish(none);
  // Merging is what ReportBuilder does across files: feed both halves into one builder.
  ReportBuilder both;
  for (int i = 1; i < 200; i += 2) both.add(outcome(i));
  for (int i = 0; i < 200; i += 2) both.add(outcome(i));
  const Report m = both.finish(none);
  CHECK(m.overall.stats.outcomes == w.overall.stats.outcomes);
  for (double p : {50.0, 90.0, 99.0, 99.9, 100.0})
    CHECK(m.overall.stats.corrected.percentile(p) == w.overall.stats.corrected.percentile(p));
  CHECK(m.overall.stats.corrected.sum() == w.overall.stats.corrected.sum());
}

TEST_CASE("a second's percentiles never exceed its largest response", "[report]") {
  ReportBuilder b;
  b.add(at("/a", 100 * kMs, 0, kMs));  // one response of exactly 1.000 ms
  b.add(at("/a", 2100 * kMs, 0, kMs));
  b.add(at("/a", 2200 * kMs, 0, 3 * kMs));
  const RunSet none;
  const Report r = b.finish(none);
  REQUIRE(r.seconds.size() == 3);
  CHECK(r.seconds[0].p50_ns == kMs);
  CHECK(r.seconds[0].p99_ns == kMs);
  CHECK(r.seconds[0].max_ns == kMs);
  CHECK(r.seconds[2].p99_ns == 3 * kMs);
  CHECK(r.seconds[2].p50_ns <= 3 * kMs);
}
