#pragma once
// Counts distinct 64-bit ids (sessions, connections) exactly, in bounded memory: an
// open-addressing set that stops growing at `limit` entries. Past the limit the count is a lower
// bound and saturated() says so — the footer records that, and `trace info` prints "at least".

#include <cstddef>
#include <cstdint>
#include <vector>

namespace reprise::format {

class DistinctCounter {
 public:
  explicit DistinctCounter(std::size_t limit = std::size_t{1} << 20) : limit_(limit) {}

  void add(std::uint64_t id);
  std::uint64_t count() const { return count_; }
  bool saturated() const { return saturated_; }

 private:
  void grow();

  std::size_t limit_;
  std::vector<std::uint64_t> slots_;  // 0 marks an empty slot; id 0 is tracked in has_zero_
  std::uint64_t count_ = 0;
  bool has_zero_ = false;
  bool saturated_ = false;
};

}  // namespace reprise::format
