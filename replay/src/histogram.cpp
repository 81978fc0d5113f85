#include "reprise/replay/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace reprise::replay {
namespace {

constexpr std::uint32_t kExact = 128;  // values below are their own bucket
constexpr std::uint32_t kSub = 64;     // buckets per power of two above that

}  // namespace

// Invariant kept by every mutator: all non-zero counters lie in
// [bucket_of(min_), bucket_of(max_)]. merge(), clear(), percentile() and nonzero() walk only
// that range, which for real latencies (1 ms .. 10 s) is ~900 of the 3712 counters; AbortGuard
// merges up to 600 seconds of histograms per check, so this is most of its cost.

std::uint32_t Histogram::bucket_of(std::int64_t value_ns) {
  if (value_ns < static_cast<std::int64_t>(kExact))
    return value_ns < 0 ? 0 : static_cast<std::uint32_t>(value_ns);
  const auto v = static_cast<std::uint64_t>(value_ns);
  const auto e = static_cast<std::uint32_t>(63 - std::countl_zero(v));  // 7..62
  return kExact + (e - 7) * kSub + static_cast<std::uint32_t>((v >> (e - 6)) & (kSub - 1));
}

std::int64_t Histogram::bucket_low(std::uint32_t bucket) {
  if (bucket < kExact) return bucket;
  bucket = std::min(bucket, kBuckets - 1);
  const std::uint32_t e = 7 + (bucket - kExact) / kSub;
  const std::uint64_t m = (bucket - kExact) % kSub;
  return static_cast<std::int64_t>((kSub + m) << (e - 6));
}

std::int64_t Histogram::bucket_high(std::uint32_t bucket) {
  if (bucket < kExact) return bucket;
  bucket = std::min(bucket, kBuckets - 1);
  const std::uint32_t e = 7 + (bucket - kExact) / kSub;
  // Computed from the low end so the last bucket (e = 62, m = 63) ends at INT64_MAX without
  // overflowing.
  return bucket_low(bucket) + ((std::int64_t{1} << (e - 6)) - 1);
}

void Histogram::record(std::int64_t value_ns, std::uint64_t count) {
  if (count == 0) return;
  value_ns = std::max<std::int64_t>(value_ns, 0);
  counts_[bucket_of(value_ns)] += count;
  if (count_ == 0) {
    min_ = max_ = value_ns;
  } else {
    min_ = std::min(min_, value_ns);
    max_ = std::max(max_, value_ns);
  }
  count_ += count;
  sum_ += static_cast<double>(value_ns) * static_cast<double>(count);
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  const std::uint32_t hi = bucket_of(other.max_);
  for (std::uint32_t b = bucket_of(other.min_); b <= hi; ++b) counts_[b] += other.counts_[b];
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
}

void Histogram::clear() {
  if (count_ != 0) {
    const std::uint32_t hi = bucket_of(max_);
    for (std::uint32_t b = bucket_of(min_); b <= hi; ++b) counts_[b] = 0;
  }
  count_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const {
  return count_ ? sum_ / static_cast<double>(count_) : 0.0;
}

std::int64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) p = 0;  // also catches NaN
  if (p >= 100) return max_;
  // p * count / 100 rather than p / 100 * count, and a hair below the product before ceil(), so
  // that p99.9 of 1000 values is rank 999 and not 1000 through rounding error.
  const double exact = p * static_cast<double>(count_) / 100.0;
  auto rank = static_cast<std::uint64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  const std::uint32_t hi = bucket_of(max_);
  for (std::uint32_t b = bucket_of(min_); b <= hi; ++b) {
    seen += counts_[b];
    if (seen >= rank) return std::clamp(bucket_high(b), min_, max_);
  }
  return max_;  // unreachable while the counters add up to count_
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> Histogram::nonzero() const {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  if (count_ == 0) return out;
  const std::uint32_t hi = bucket_of(max_);
  for (std::uint32_t b = bucket_of(min_); b <= hi; ++b)
    if (counts_[b] != 0) out.emplace_back(b, counts_[b]);
  return out;
}

std::uint64_t Histogram::add_nonzero(
    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& buckets, std::int64_t min_ns,
    std::int64_t max_ns, double sum_ns) {
  std::uint64_t ignored = 0;
  std::uint64_t added = 0;
  std::uint32_t lo_bucket = kBuckets;
  std::uint32_t hi_bucket = 0;
  for (const auto& [bucket, count] : buckets) {
    if (bucket >= kBuckets) {
      ++ignored;
      continue;
    }
    if (count == 0) continue;
    counts_[bucket] += count;
    added += count;
    lo_bucket = std::min(lo_bucket, bucket);
    hi_bucket = std::max(hi_bucket, bucket);
  }
  if (added == 0) return ignored;
  // The file's min and max are trusted only as far as the buckets agree: clamped into the lowest
  // and highest bucket, so percentile() stays within them and the range invariant above holds
  // even for a damaged file.
  const std::int64_t lo = std::clamp(min_ns, bucket_low(lo_bucket), bucket_high(lo_bucket));
  const std::int64_t hi =
      std::max(lo, std::clamp(max_ns, bucket_low(hi_bucket), bucket_high(hi_bucket)));
  if (count_ == 0) {
    min_ = lo;
    max_ = hi;
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
  }
  count_ += added;
  sum_ += sum_ns;
  return ignored;
}

}  // namespace reprise::replay
