#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "reprise/report/quantile_interval.hpp"

using namespace reprise::report;

namespace {

std::vector<std::int64_t> lognormal(std::mt19937_64& rng, std::size_t n, double scale) {
  std::lognormal_distribution<double> d(0, 0.5);
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = static_cast<std::int64_t>(scale * 1e6 * d(rng));
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("the quantile interval holds the point and covers the true quantile as often as promised",
          "[report][quantile]") {
  std::mt19937_64 rng(7);
  // True p90 of uniform [0, 1e6) is 9e5. Count how often the 83.4 % interval covers it.
  for (std::size_t n : {40u, 500u}) {
    int covered = 0;
    const int trials = 400;
    for (int t = 0; t < trials; ++t) {
      std::uniform_int_distribution<std::int64_t> u(0, 999'999);
      std::vector<std::int64_t> v(n);
      for (auto& x : v) x = u(rng);
      std::sort(v.begin(), v.end());
      const auto q = quantile_interval(v, 0.90);
      REQUIRE(q.low <= q.value);
      REQUIRE(q.value <= q.high);
      if (q.low <= 900'000 && 900'000 <= q.high) ++covered;
    }
    INFO("n = " << n << ", covered " << covered << " of " << trials);
    CHECK(covered >= trials * 0.80);  // promised 83.4 %, binomial intervals are conservative
  }
}

TEST_CASE("quantile intervals of tiny and empty samples", "[report][quantile]") {
  const std::vector<std::int64_t> none;
  CHECK(quantile_interval(none, 0.5).n == 0);
  const std::vector<std::int64_t> one{5};
  const auto q = quantile_interval(one, 0.99);
  CHECK(q.value == 5);
  CHECK(q.low == 5);
  CHECK(q.high == 5);
  const std::vector<std::int64_t> ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(quantile_interval(ten, 0.5).value == 5);
  CHECK(quantile_interval(ten, 1.0).value == 10);
}

TEST_CASE("a 3 percent wobble on 40 requests is not a change", "[report][quantile]") {
  std::mt19937_64 rng(11);
  int called = 0;
  for (int t = 0; t < 50; ++t) {
    auto base = lognormal(rng, 40, 10);
    auto cand = lognormal(rng, 40, 10.3);
    if (compare_quantile(base, cand, 0.95).direction != 0) ++called;
  }
  CHECK(called <= 5);  // about the 5 % false-positive rate, never a habit
}

TEST_CASE("a real +30 percent on p95 is found, and a faster candidate is called faster",
          "[report][quantile]") {
  std::mt19937_64 rng(13);
  const auto base = lognormal(rng, 2000, 10);
  const auto slower = lognormal(rng, 2000, 13);
  const auto d = compare_quantile(base, slower, 0.95);
  CHECK(d.direction == 1);
  CHECK(d.change == Approx(0.30).margin(0.12));
  CHECK(d.change_low > 0);
  CHECK(d.change_low <= d.change);
  CHECK(d.change <= d.change_high);
  CHECK(compare_quantile(slower, base, 0.95).direction == -1);
  // Too few samples on a side: no claim either way.
  CHECK(compare_quantile(std::span(base).first(10), std::span(slower).first(10), 0.95).direction == 0);
}

TEST_CASE("a significant but tiny change is not called", "[report][quantile]") {
  // Two tight distributions 1 % apart: with 5000 values each the intervals separate.
  std::vector<std::int64_t> base(5000), cand(5000);
  for (std::size_t i = 0; i < base.size(); ++i) {
    base[i] = 20'000'000 + static_cast<std::int64_t>(i);
    cand[i] = 20'200'000 + static_cast<std::int64_t>(i);
  }
  CHECK(compare_quantile(base, cand, 0.5, {20, 0}).direction == 1);
  CHECK(compare_quantile(base, cand, 0.5).direction == 0);
}

TEST_CASE("a quantile beyond what the sample can bound is open above and never called faster",
          "[report][quantile]") {
  std::mt19937_64 rng(5);
  const auto base = lognormal(rng, 150, 10);
  const auto q = quantile_interval(base, 0.999);
  CHECK_FALSE(q.bounded);
  CHECK(q.high == base.back());
  CHECK(quantile_interval(base, 0.5).bounded);
  // Even a candidate whose largest value is below the base's: p99.9 of 150 values is unknown.
  std::vector<std::int64_t> lower(base.begin(), base.end());
  for (auto& v : lower) v = v * 9 / 10;
  const auto d = compare_quantile(base, lower, 0.999);
  CHECK(d.direction == 0);
  CHECK(std::isinf(d.change_high));
}

TEST_CASE("a percentile open above on one side is still called when the bounds that exist decide it",
          "[report][quantile]") {
  // One-sided: "slower" needs the base bounded above and the candidate's lower bound past it;
  // the candidate's unknown upper end cannot make it less slow. "Faster" is the mirror image.
  // The README says exactly this.
  std::mt19937_64 rng(17);
  const auto base = lognormal(rng, 20000, 10);
  auto cand = lognormal(rng, 150, 10);
  for (auto& v : cand) v *= 10;
  const auto d = compare_quantile(base, cand, 0.999);
  REQUIRE(d.base.bounded);
  REQUIRE_FALSE(d.candidate.bounded);
  CHECK(d.direction == 1);
  CHECK(d.rise_testable);
  CHECK(std::isinf(d.change_high));
  // The mirror image: a base open above, a bounded candidate far below the base's lower bound.
  const auto r = compare_quantile(cand, base, 0.999);
  CHECK(r.direction == -1);
  CHECK_FALSE(r.rise_testable);  // a rise cannot be called against a base open above
}
