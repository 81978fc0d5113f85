#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "reprise/replay/histogram.hpp"

using reprise::replay::Histogram;

namespace {

using Buckets = std::vector<std::pair<std::uint32_t, std::uint64_t>>;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// The reference the header defines: the ceil(p/100 * n)-th smallest value.
std::int64_t reference_percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (p >= 100) return sorted.back();
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(p * n / 100.0 - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// Log-uniform values from 1 ns to ~1 min, the spread of real latencies and then some.
std::vector<std::int64_t> random_values(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<double> exponent(0.0, 36.0);
  std::vector<std::int64_t> out(n);
  for (auto& v : out) v = static_cast<std::int64_t>(std::exp2(exponent(rng)));
  return out;
}

}  // namespace

TEST_CASE("histogram buckets are contiguous, round-trip through bucket_of and are narrow",
          "[replay][histogram]") {
  CHECK(Histogram::bucket_low(0) == 0);
  CHECK(Histogram::bucket_high(Histogram::kBuckets - 1) == kMax);
  for (std::uint32_t b = 0; b < Histogram::kBuckets; ++b) {
    const std::int64_t lo = Histogram::bucket_low(b);
    const std::int64_t hi = Histogram::bucket_high(b);
    INFO("bucket " << b << " [" << lo << ", " << hi << "]");
    REQUIRE(lo <= hi);
    REQUIRE(Histogram::bucket_of(lo) == b);
    REQUIRE(Histogram::bucket_of(hi) == b);
    if (b + 1 < Histogram::kBuckets) REQUIRE(Histogram::bucket_low(b + 1) == hi + 1);
    // Width relative to the smallest value in the bucket: at most 1/64 (exact below 128).
    if (b < 128) REQUIRE(lo == hi);
    else REQUIRE(static_cast<double>(hi - lo + 1) / static_cast<double>(lo) <= 1.0 / 64);
  }
}

TEST_CASE("histogram bucket_of follows the documented formula",
          "[replay][histogram]") {
  CHECK(Histogram::bucket_of(-5) == 0);
  CHECK(Histogram::bucket_of(std::numeric_limits<std::int64_t>::min()) == 0);
  CHECK(Histogram::bucket_of(0) == 0);
  CHECK(Histogram::bucket_of(127) == 127);
  CHECK(Histogram::bucket_of(128) == 128);
  CHECK(Histogram::bucket_of(129) == 128);
  CHECK(Histogram::bucket_of(130) == 129);
  CHECK(Histogram::bucket_of(255) == 128 + 63);
  CHECK(Histogram::bucket_of(256) == 128 + 64);
  // 1 s: e = 29, (1e9 >> 23) & 63 = 119 & 63 = 55.
  CHECK(Histogram::bucket_of(1'000'000'000) == 128 + 22 * 64 + 55);
  CHECK(Histogram::bucket_of(kMax) == Histogram::kBuckets - 1);
}

TEST_CASE("histogram of nothing is all zeros", "[replay][histogram]") {
  Histogram h;
  CHECK(h.empty());
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0);
  CHECK(h.percentile(50) == 0);
  CHECK(h.percentile(100) == 0);
  CHECK(h.nonzero().empty());
}

TEST_CASE("histogram keeps exact min, max, count and mean", "[replay][histogram]") {
  Histogram h;
  h.record(1'000'003);
  h.record(17);
  h.record(5'000'000'001, 2);
  h.record(-40);  // counts as 0
  h.record(99, 0);  // a count of zero records nothing
  CHECK(h.count() == 5);
  CHECK(h.min() == 0);
  CHECK(h.max() == 5'000'000'001);
  CHECK(h.sum() == Approx(1'000'003.0 + 17 + 2 * 5'000'000'001.0));
  CHECK(h.mean() == Approx((1'000'003.0 + 17 + 2 * 5'000'000'001.0) / 5));
  CHECK(h.percentile(100) == 5'000'000'001);
  CHECK(h.percentile(0) == 0);
  CHECK(h.percentile(20) == 0);
  CHECK(h.percentile(40) == 17);
  // Upper bound of 1'000'003's bucket, which is above the value but within 1/64.
  const std::int64_t p60 = h.percentile(60);
  CHECK(p60 == Histogram::bucket_high(Histogram::bucket_of(1'000'003)));
  CHECK(p60 >= 1'000'003);
  CHECK(p60 - 1'000'003 < 1'000'003 / 64);
  // The top bucket's upper bound is past the maximum: clamped to it.
  CHECK(h.percentile(80) == 5'000'000'001);
}

TEST_CASE("histogram small values are exact", "[replay][histogram]") {
  Histogram h;
  for (std::int64_t v = 1; v <= 100; ++v) h.record(v);
  for (int p = 1; p <= 100; ++p) CHECK(h.percentile(p) == p);
  CHECK(h.percentile(99.9) == 100);
  CHECK(h.percentile(0.5) == 1);
}

TEST_CASE("histogram p99.9 of 1000 values is the 999th, not the 1000th",
          "[replay][histogram]") {
  Histogram h;
  for (std::int64_t v = 1; v <= 1000; ++v) h.record(v * 1000);
  const std::int64_t p = h.percentile(99.9);
  CHECK(p >= 999'000);
  CHECK(p < 1'000'000);
}

TEST_CASE("histogram percentile rank is not pushed up by floating-point rounding",
          "[replay][histogram]") {
  // 0.07 * 10000 / 100 is 7.000000000000001 in doubles, and 1.11 * 10000 / 100 is
  // 111.00000000000001: a plain ceil() would report the 8th and the 112th value.
  Histogram h;
  for (std::int64_t v = 1; v <= 10000; ++v) h.record(v);
  CHECK(h.percentile(0.07) == 7);
  CHECK(h.percentile(1.11) == 111);
  CHECK(h.percentile(0.17) == 17);
}

TEST_CASE("histogram percentiles match a sorted reference within 1/64 on random data",
          "[replay][histogram]") {
  std::mt19937_64 rng(20261124);
  for (std::size_t n : {1u, 2u, 7u, 100u, 1000u, 54321u}) {
    const auto values = random_values(rng, n);
    Histogram h;
    for (auto v : values) h.record(v);
    auto sorted = values;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(h.count() == n);
    REQUIRE(h.min() == sorted.front());
    REQUIRE(h.max() == sorted.back());
    for (double p : {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      const std::int64_t want = reference_percentile(sorted, p);
      const std::int64_t got = h.percentile(p);
      INFO("n " << n << " p" << p << " want " << want << " got " << got);
      CHECK(got >= want);  // the upper bound of the bucket
      CHECK(static_cast<double>(got - want) <= static_cast<double>(want) / 64);
    }
  }
}

TEST_CASE("histogram merge equals recording everything into one", "[replay][histogram]") {
  std::mt19937_64 rng(7);
  const auto a_values = random_values(rng, 5000);
  const auto b_values = random_values(rng, 3000);
  Histogram a, b, all;
  for (auto v : a_values) {
    a.record(v);
    all.record(v);
  }
  for (auto v : b_values) {
    b.record(v);
    all.record(v);
  }
  Histogram merged;
  merged.merge(a);
  merged.merge(Histogram{});  // merging an empty one changes nothing
  merged.merge(b);
  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  CHECK(merged.sum() == Approx(all.sum()));
  CHECK(merged.nonzero() == all.nonzero());
  for (double p : {1.0, 50.0, 99.0, 99.9, 100.0}) CHECK(merged.percentile(p) == all.percentile(p));

  SECTION("merge into an empty histogram copies") {
    Histogram c;
    c.merge(b);
    CHECK(c.nonzero() == b.nonzero());
    CHECK(c.min() == b.min());
    CHECK(c.max() == b.max());
  }
  SECTION("clear forgets everything and the histogram is reusable") {
    merged.clear();
    CHECK(merged.empty());
    CHECK(merged.nonzero().empty());
    CHECK(merged.sum() == 0);
    merged.record(500);
    CHECK((merged.nonzero() == Buckets{{Histogram::bucket_of(500), 1}}));
    CHECK(merged.min() == 500);
    CHECK(merged.max() == 500);
  }
}

TEST_CASE("histogram nonzero and add_nonzero round-trip", "[replay][histogram]") {
  std::mt19937_64 rng(99);
  Histogram h;
  for (auto v : random_values(rng, 2000)) h.record(v);
  const auto buckets = h.nonzero();
  REQUIRE(std::is_sorted(buckets.begin(), buckets.end()));
  for (const auto& [b, c] : buckets) CHECK(c > 0);

  Histogram back;
  CHECK(back.add_nonzero(buckets, h.min(), h.max(), h.sum()) == 0);
  CHECK(back.nonzero() == buckets);
  CHECK(back.count() == h.count());
  CHECK(back.min() == h.min());
  CHECK(back.max() == h.max());
  CHECK(back.sum() == h.sum());
  for (double p : {1.0, 50.0, 99.0, 100.0}) CHECK(back.percentile(p) == h.percentile(p));

  SECTION("adding onto a non-empty histogram is a merge") {
    Histogram twice = h;
    CHECK(twice.add_nonzero(buckets, h.min(), h.max(), h.sum()) == 0);
    Histogram merged = h;
    merged.merge(h);
    CHECK(twice.nonzero() == merged.nonzero());
    CHECK(twice.count() == 2 * h.count());
  }
}

TEST_CASE("histogram add_nonzero ignores out-of-range buckets and counts them",
          "[replay][histogram]") {
  Histogram h;
  const Buckets stored = {
      {5, 2}, {Histogram::kBuckets, 7}, {200, 1}, {0xFFFFFFFFu, 1}, {300, 0}};
  CHECK(h.add_nonzero(stored, 5, Histogram::bucket_low(200), 5.0 * 2 + 1000) == 2);
  CHECK(h.count() == 3);
  CHECK((h.nonzero() == Buckets{{5, 2}, {200, 1}}));

  SECTION("only bad buckets leave the histogram untouched") {
    Histogram empty;
    CHECK(empty.add_nonzero({{Histogram::kBuckets + 1, 3}}, 1, 2, 3) == 1);
    CHECK(empty.empty());
    CHECK(empty.min() == 0);
    CHECK(empty.sum() == 0);
  }
  SECTION("a min and max that disagree with the buckets are clamped into them") {
    Histogram d;
    CHECK(d.add_nonzero({{10, 1}, {Histogram::bucket_of(1'000'000), 1}}, -50, kMax, 0) == 0);
    CHECK(d.min() == 10);
    CHECK(d.max() == Histogram::bucket_high(Histogram::bucket_of(1'000'000)));
    CHECK(d.percentile(100) == d.max());
    CHECK(d.percentile(50) == 10);
  }
}
