#include "reprise/report/quantile_interval.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace reprise::report {
namespace {

// The two-sided standard normal quantile for `confidence` (Acklam's rational approximation of
// the inverse normal CDF, |error| < 1.2e-9: far below what a rank rounds away).
double z_for(double confidence) {
  const double q = 0.5 + confidence / 2;
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  if (q > 0.97575) {
    const double t = std::sqrt(-2 * std::log(1 - q));
    return -(((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
           ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
  }
  const double t = q - 0.5, r = t * t;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * t /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Ranks (1-based) l <= u with P(l <= B < u) >= confidence for B ~ Binomial(n, p), the count of
// values below the true quantile: then x_(l) <= quantile <= x_(u) with that probability. u is
// n + 1 when no value of the sample bounds the quantile from above with that confidence.
std::pair<std::uint64_t, std::uint64_t> rank_bounds(std::uint64_t n, double p, double confidence) {
  const double tail = (1 - confidence) / 2;
  if (n < 200) {
    // Exact: walk the binomial CDF.
    std::vector<double> pmf(n + 1);
    const double lq = std::log1p(-std::min(p, 1 - 1e-12)), lp = std::log(std::max(p, 1e-12));
    double log_choose = 0;
    for (std::uint64_t k = 0; k <= n; ++k) {
      if (k > 0) log_choose += std::log(static_cast<double>(n - k + 1)) - std::log(static_cast<double>(k));
      pmf[k] = std::exp(log_choose + static_cast<double>(k) * lp + static_cast<double>(n - k) * lq);
    }
    std::uint64_t l = 0;
    double cdf = 0;
    while (l < n && cdf + pmf[l] <= tail) cdf += pmf[l++];
    std::uint64_t u = n;
    double upper = 0;
    while (u > 0 && upper + pmf[u] <= tail) upper += pmf[u--];
    return {std::max<std::uint64_t>(1, l), u + 1};
  }
  const double nd = static_cast<double>(n);
  const double sd = std::sqrt(nd * p * (1 - p));
  const double z = z_for(confidence);
  const double lo = std::floor(nd * p - z * sd - 0.5);
  const double hi = std::ceil(nd * p + z * sd + 0.5);
  return {static_cast<std::uint64_t>(std::clamp(lo, 1.0, nd)),
          static_cast<std::uint64_t>(std::clamp(hi, 1.0, nd + 1))};
}

}  // namespace

QuantileInterval quantile_interval(std::span<const std::int64_t> sorted, double p, double confidence) {
  QuantileInterval q;
  q.n = sorted.size();
  if (sorted.empty()) return q;
  p = std::clamp(p, 1e-9, 1.0);
  const auto n = sorted.size();
  const auto rank = std::clamp<std::uint64_t>(
      static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(n) - 1e-9)), 1, n);
  q.value = sorted[rank - 1];
  const auto [l, u] = rank_bounds(n, p, confidence);
  q.low = std::min(sorted[l - 1], q.value);
  q.bounded = u <= n;
  q.high = std::max(sorted[std::min<std::uint64_t>(u, n) - 1], q.value);
  return q;
}

QuantileDelta compare_quantile(std::span<const std::int64_t> base_sorted,
                               std::span<const std::int64_t> candidate_sorted, double p,
                               const QuantileCompareOptions& options) {
  QuantileDelta d;
  d.p = p;
  d.base = quantile_interval(base_sorted, p);
  d.candidate = quantile_interval(candidate_sorted, p);
  d.missing = d.base.n > 0 && d.base.n >= options.min_samples && d.candidate.n == 0;
  if (d.base.n == 0 || d.candidate.n == 0) return d;
  const double b = static_cast<double>(std::max<std::int64_t>(1, d.base.value));
  d.change = static_cast<double>(d.candidate.value - d.base.value) / b;
  // Latency cannot fall below zero, so neither can a change below -100 %.
  d.change_low = std::max(-1.0, static_cast<double>(d.candidate.low - d.base.high) / b);
  d.change_high = d.candidate.bounded ? static_cast<double>(d.candidate.high - d.base.low) / b
                                      : std::numeric_limits<double>::infinity();
  if (d.base.n < options.min_samples || d.candidate.n < options.min_samples) return d;
  d.rise_testable = d.base.bounded;
  if (std::abs(d.change) < options.min_change) return d;
  if (d.base.bounded && d.candidate.low > d.base.high) d.direction = 1;
  else if (d.candidate.bounded && d.candidate.high < d.base.low) d.direction = -1;
  return d;
}

}  // namespace reprise::report
