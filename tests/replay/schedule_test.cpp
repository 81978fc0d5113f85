#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "reprise/replay/intensity.hpp"
#include "reprise/replay/schedule.hpp"

using namespace reprise::replay;

namespace {

constexpr std::int64_t kSec = 1'000'000'000;

// A trace of `sessions` sessions, each `per_session` requests, one request every `gap` ns in
// round-robin over the sessions.
std::vector<TraceRequest> trace(int sessions, int per_session, std::int64_t gap) {
  std::vector<TraceRequest> out;
  std::uint64_t id = 1;
  for (int r = 0; r < per_session; ++r)
    for (int s = 0; s < sessions; ++s) {
      TraceRequest t;
      t.exchange_id = id;
      t.session_id = 1000 + static_cast<std::uint64_t>(s);
      t.connection_id = 5000 + static_cast<std::uint64_t>(s);
      t.recorded_ns = 7 * kSec + static_cast<std::int64_t>(id - 1) * gap;
      t.recorded_latency_ns = 2'000'000;
      out.push_back(t);
      ++id;
    }
  return out;
}

// Feeds the whole trace (and more passes when the plan loops), popping as it goes, as the
// engine's reader thread does.
std::vector<ScheduledRequest> run(const Plan& plan, const std::vector<TraceRequest>& t) {
  Schedule s(plan);
  std::vector<ScheduledRequest> out;
  auto drain = [&] {
    while (auto r = s.pop()) out.push_back(*r);
  };
  for (int pass = 0; pass < 1000 && !s.input_done(); ++pass) {
    for (const auto& r : t) {
      s.push(r);
      drain();
      if (s.input_done()) break;
    }
    s.end_pass();
  }
  s.finish();
  drain();
  REQUIRE(s.done());
  return out;
}

}  // namespace

TEST_CASE("x1 replays every recorded request once at its recorded offset", "[replay][schedule]") {
  const auto t = trace(3, 4, 250'000'000);
  const auto out = run(Plan{}, t);
  REQUIRE(out.size() == t.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].request.exchange_id == t[i].exchange_id);
    CHECK(out[i].clone == 0);
    CHECK(out[i].due_ns == static_cast<std::int64_t>(i) * 250'000'000);
  }
}

TEST_CASE("speed 2 halves every gap on an absolute schedule", "[replay][schedule]") {
  Plan p;
  p.speed = 2;
  const auto t = trace(1, 1001, 333'333'333);
  const auto out = run(p, t);
  REQUIRE(out.size() == 1001);
  // No accumulated rounding: the last one is exactly (recorded - recorded0) / 2.
  CHECK(out.back().due_ns == (t.back().recorded_ns - t.front().recorded_ns) / 2);
}

TEST_CASE("multiplier clones whole sessions, deterministic from the seed", "[replay][schedule]") {
  const auto t = trace(400, 3, 10'000'000);
  Plan p;
  p.multiplier = 2.5;
  const auto out = run(p, t);
  std::map<std::pair<std::uint64_t, std::uint32_t>, int> per_clone;
  for (const auto& r : out) ++per_clone[{r.request.session_id, r.clone}];
  for (const auto& [key, n] : per_clone) CHECK(n == 3);  // whole sessions only
  std::map<std::uint32_t, int> sessions_per_clone;
  for (const auto& [key, n] : per_clone) ++sessions_per_clone[key.second];
  CHECK(sessions_per_clone[0] == 400);
  CHECK(sessions_per_clone[1] == 400);
  CHECK(sessions_per_clone[2] > 160);  // half of 400, give or take the hash
  CHECK(sessions_per_clone[2] < 240);
  CHECK(run(p, t).size() == out.size());  // same seed, same plan
  p.seed = 99;
  CHECK(run(p, t).size() != out.size());
}

TEST_CASE("clone 0 keeps the recorded start, later clones start within the spread", "[replay][schedule]") {
  const auto t = trace(50, 2, 1'000'000);
  Plan p;
  p.multiplier = 3;
  p.clone_spread_ns = 2 * kSec;
  const auto out = run(p, t);
  std::map<std::uint64_t, std::int64_t> recorded_due;
  for (const auto& r : out)
    if (r.clone == 0) recorded_due[r.request.exchange_id] = r.due_ns;
  for (const auto& r : out) {
    const std::int64_t offset = r.due_ns - recorded_due[r.request.exchange_id];
    if (r.clone == 0) CHECK(offset == 0);
    else {
      CHECK(offset > 0);
      CHECK(offset <= 2 * kSec);
    }
  }
  for (std::size_t i = 1; i < out.size(); ++i) CHECK(out[i - 1].due_ns <= out[i].due_ns);
}

TEST_CASE("x0.5 keeps about half of the sessions, whole", "[replay][schedule]") {
  const auto t = trace(1000, 2, 1'000'000);
  Plan p;
  p.multiplier = 0.5;
  const auto out = run(p, t);
  std::map<std::uint64_t, int> per_session;
  for (const auto& r : out) ++per_session[r.request.session_id];
  for (const auto& [s, n] : per_session) CHECK(n == 2);
  CHECK(per_session.size() > 430);
  CHECK(per_session.size() < 570);
}

TEST_CASE("shards split the clones with no overlap and nothing missing", "[replay][schedule]") {
  const auto t = trace(300, 2, 1'000'000);
  Plan p;
  p.multiplier = 2.5;
  std::set<std::tuple<std::uint64_t, std::uint32_t, std::uint32_t>> whole, joined;
  for (const auto& r : run(p, t)) whole.insert({r.request.exchange_id, r.clone, r.iteration});
  std::size_t total = 0;
  p.shard_count = 3;
  for (std::uint32_t i = 0; i < 3; ++i) {
    p.shard_index = i;
    const auto part = run(p, t);
    total += part.size();
    for (const auto& r : part) joined.insert({r.request.exchange_id, r.clone, r.iteration});
    CHECK(part.size() > whole.size() / 5);
  }
  CHECK(total == whole.size());  // none twice
  CHECK(joined == whole);        // none missing
}

TEST_CASE("a ramp admits sessions in proportion to the stage level", "[replay][schedule]") {
  // 40 s of sessions starting every 10 ms; ramp 0 -> 200 % over 40 s.
  const auto t = trace(4000, 1, 10'000'000);
  Plan p;
  p.stages = {{40 * kSec, 2.0}};
  p.clone_spread_ns = 1;
  const auto out = run(p, t);
  std::map<std::int64_t, int> per_second;
  for (const auto& r : out) ++per_second[r.due_ns / kSec];
  // At second s the level is 2 s / 40; 100 sessions start per second at x1.
  for (std::int64_t s = 2; s < 38; ++s) {
    const double expected = 100.0 * 2.0 * (static_cast<double>(s) + 0.5) / 40.0;
    CHECK(per_second[s] == Approx(expected).margin(std::max(12.0, 0.35 * expected)));
  }
  CHECK(out.size() == Approx(4000).epsilon(0.08));  // mean level 100 %
}

TEST_CASE("stages end the run: nothing is due after their end", "[replay][schedule]") {
  const auto t = trace(10, 100, 100'000'000);  // 100 s recorded
  Plan p;
  p.stages = {{0, 1.0}, {10 * kSec, 1.0}};
  const auto out = run(p, t);
  REQUIRE_FALSE(out.empty());
  CHECK(out.back().due_ns <= 10 * kSec);
  CHECK(out.size() == Approx(100).margin(2));
}

TEST_CASE("loop repeats the trace as new sessions until the duration", "[replay][schedule]") {
  const auto t = trace(2, 5, 100'000'000);  // 1 s per pass (0.9 s span + one gap)
  Plan p;
  p.loop = true;
  p.duration_ns = 5 * kSec - 1;
  const auto out = run(p, t);
  CHECK(out.size() == 50);
  std::set<std::uint32_t> iterations;
  for (const auto& r : out) iterations.insert(r.iteration);
  CHECK(iterations.size() == 5);
  CHECK(out[10].due_ns == 1 * kSec);  // pass 1 starts one period later
  CHECK(out[10].session_key() != out[0].session_key());
}

TEST_CASE("fixed rate keeps the order and spaces arrivals exactly", "[replay][schedule]") {
  const auto t = trace(5, 20, 7'000'000);
  Plan p;
  p.pacing = Pacing::Rate;
  p.rate_per_s = 500;
  const auto out = run(p, t);
  REQUIRE(out.size() == 100);
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].request.exchange_id == t[i].exchange_id);
    CHECK(out[i].due_ns == static_cast<std::int64_t>(i) * 2'000'000);
  }
}

TEST_CASE("rate with stages: the count by any time is the integral of the rate", "[replay][schedule]") {
  Plan p;
  p.pacing = Pacing::Rate;
  p.rate_per_s = 100;
  p.stages = {{10 * kSec, 1.0}, {10 * kSec, 1.0}, {0, 3.0}, {5 * kSec, 3.0}};
  Intensity in(p);
  CHECK(in.level(5 * kSec) == Approx(0.5));
  CHECK(in.level(15 * kSec) == Approx(1.0));
  CHECK(in.level(22 * kSec) == Approx(3.0));
  // 0-10 s ramps 0 -> 100/s: 500 arrivals; 10-20 s: 1000 more; 20-25 s at 300/s: 1500 more.
  CHECK(*in.arrival_ns(500) == Approx(10 * kSec).margin(1e3));
  CHECK(*in.arrival_ns(1500) == Approx(20 * kSec).margin(1e3));
  CHECK(*in.arrival_ns(1800) == Approx(21 * kSec).margin(1e3));
  CHECK_FALSE(in.arrival_ns(3001));
  const auto out = run(p, trace(10, 100, 1'000'000));
  CHECK(out.size() == 1000);  // the trace ran out (no loop) before the stages did
  p.loop = true;
  CHECK(run(p, trace(10, 100, 1'000'000)).size() == 3001);
}

TEST_CASE("max pacing hands every request out due now, in order", "[replay][schedule]") {
  Plan p;
  p.pacing = Pacing::Max;
  const auto t = trace(3, 3, 1'000'000'000);
  const auto out = run(p, t);
  REQUIRE(out.size() == 9);
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].due_ns == 0);
    CHECK(out[i].request.exchange_id == t[i].exchange_id);
  }
}

TEST_CASE("session state is bounded: idle sessions are forgotten and counted", "[replay][schedule]") {
  Plan p;
  p.max_sessions = 100;
  Schedule s(p);
  for (const auto& r : trace(1000, 1, 1'000'000)) {
    s.push(r);
    while (s.pop()) {
    }
  }
  CHECK(s.stats().sessions_forgotten >= 850);
  CHECK(s.stats().planned == 1000);
}

TEST_CASE("plans that contradict themselves are refused with the flag named", "[replay][plan]") {
  Plan p;
  p.loop = true;
  auto st = p.validate();
  REQUIRE_FALSE(st);
  CHECK(st.error().where == "--loop");
  p = Plan{};
  p.pacing = Pacing::Max;
  p.stages = {{kSec, 1.0}};
  CHECK(p.validate().error().where == "--stage");
  p = Plan{};
  p.shard_index = 3;
  p.shard_count = 3;
  CHECK(p.validate().error().where == "--shard");
  // Values whose times or intervals would not fit 64-bit nanoseconds.
  p = Plan{};
  p.speed = 1e-9;
  CHECK(p.validate().error().where == "--speed");
  p = Plan{};
  p.max_rate_per_s = 1e-12;
  CHECK(p.validate().error().where == "--max-rate");
  p.max_rate_per_s = 0.001;
  CHECK(p.validate());
  CHECK(parse_stage("30s:10%")->level == Approx(0.1));
  CHECK(parse_stage("2m:300%")->duration_ns == 120 * kSec);
  CHECK_FALSE(parse_stage("30s"));
  CHECK_FALSE(parse_stage("30s:10"));
  CHECK(Plan{}.validate());
  p = Plan{};
  p.multiplier = 2.5;
  p.stages = {{kSec, 0.5}, {kSec, 3.0}};
  CHECK(p.clones() == 8);
}
