#pragma once
// Histogram: a log-linear histogram of non-negative durations in nanoseconds, exact to within
// 1/64 of the value (about 1.6 %), mergeable by adding counts, fixed size (3712 counters) and
// allocation-free after construction.
//
// Bucket scheme (stored in run files, so it is part of format/SPEC.md "Interval histograms"):
// a value v < 128 has bucket v (exact); for v >= 128 let e = floor(log2 v) (7..62), then the
// bucket is 128 + (e - 7) * 64 + ((v >> (e - 6)) & 63), covering the 2^(e-6) values that share
// those bits. Negative values count as 0. Values past 2^63 - 1 cannot occur (int64).

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace reprise::replay {

class Histogram {
 public:
  static constexpr std::uint32_t kBuckets = 128 + 56 * 64;  // e = 7..62

  static std::uint32_t bucket_of(std::int64_t value_ns);
  // The smallest and largest value of a bucket (inclusive).
  static std::int64_t bucket_low(std::uint32_t bucket);
  static std::int64_t bucket_high(std::uint32_t bucket);

  void record(std::int64_t value_ns, std::uint64_t count = 1);
  void merge(const Histogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Exact minimum and maximum recorded values (0 when empty).
  std::int64_t min() const { return count_ ? min_ : 0; }
  std::int64_t max() const { return count_ ? max_ : 0; }
  // Mean of the recorded values (exact: a running sum is kept), 0 when empty.
  double mean() const;
  // The value at percentile p in [0, 100]: the upper bound of the bucket holding the
  // ceil(p/100 * count)-th smallest value, clamped to [min, max]; p = 100 gives max().
  // 0 when empty.
  std::int64_t percentile(double p) const;

  // Non-empty buckets in increasing order, as (bucket, count): the run-file form.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> nonzero() const;
  // Adds counts stored in the run-file form; entries with a bucket >= kBuckets are ignored and
  // the return value is how many entries were (a damaged or foreign file must not crash the
  // reader). min_ns and max_ns are clamped into the lowest and highest bucket given.
  std::uint64_t add_nonzero(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& buckets,
                            std::int64_t min_ns, std::int64_t max_ns, double sum_ns);

  double sum() const { return sum_; }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace reprise::replay
