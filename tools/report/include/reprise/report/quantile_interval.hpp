#pragma once
// Confidence intervals for latency percentiles, and the comparison of two samples' percentiles.
//
// Distribution-free: the interval of the p-quantile of n sorted values is [x_(l), x_(u)] with
// ranks l, u taken from Binomial(n, p) (exact below n = 200, normal approximation with a
// continuity correction above). Latency distributions are skewed and multi-modal; this makes no
// assumption about their shape, costs one sort, and needs no random resampling, so a comparison
// prints the same numbers every time.
//
// Two percentiles differ significantly when their intervals do not overlap. Each interval is
// taken at 83.4 % so that non-overlap is a test at about the 5 % level (two 95 % intervals that
// just touch would be a ~0.6 % test and miss real changes). With 40 requests the p95 interval
// spans several order statistics, so a 3 % wobble is not a change; with thousands it is narrow,
// and a real +30 % is.

#include <cstdint>
#include <span>

namespace reprise::report {

inline constexpr double kPairedConfidence = 0.834;

struct QuantileInterval {
  std::int64_t value = 0;  // nearest rank: x_(ceil(p n))
  std::int64_t low = 0;
  std::int64_t high = 0;   // the largest value when !bounded
  std::uint64_t n = 0;
  // False when the sample is too small to bound the quantile from above (p99.9 of 150 values:
  // most likely every value lies below it); then nothing can be said against a larger value.
  bool bounded = true;
};

// `sorted` ascending; p in (0, 1]. An empty sample gives all zeros.
QuantileInterval quantile_interval(std::span<const std::int64_t> sorted, double p,
                                   double confidence = kPairedConfidence);

struct QuantileDelta {
  double p = 0;  // 0.95 for p95
  QuantileInterval base, candidate;
  double change = 0;       // candidate / base - 1 at the point estimates
  double change_low = 0;   // (candidate.low - base.high) / base.value
  double change_high = 0;  // (candidate.high - base.low) / base.value; +inf when unbounded
  // +1 candidate significantly slower, -1 significantly faster, 0 no significant change, too
  // few values on a side, or a change smaller than the minimum. Each claim is one-sided: slower
  // needs the base bounded from above (candidate.low > base.high), faster the candidate
  // (candidate.high < base.low); the other side's open upper end does not weaken it.
  int direction = 0;
  // A rise could have been called: both sides have min_samples values and the base is bounded.
  // Where this is false a gate rule on a rise has nothing to evaluate.
  bool rise_testable = false;
  // The base has min_samples values and the candidate none: missing in the candidate.
  bool missing = false;
};

struct QuantileCompareOptions {
  std::uint64_t min_samples = 20;  // fewer values on a side: no claim
  // Changes smaller than this share are not called, however significant: two runs of one
  // release on one machine drift by about 1 % (CPU frequency, caches, neighbours), and with
  // thousands of requests such a drift is "significant" without meaning anything.
  double min_change = 0.02;
};

QuantileDelta compare_quantile(std::span<const std::int64_t> base_sorted,
                               std::span<const std::int64_t> candidate_sorted, double p,
                               const QuantileCompareOptions& options = {});

}  // namespace reprise::report
