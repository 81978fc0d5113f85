#include "reprise/format/distinct_counter.hpp"

namespace reprise::format {
namespace {

std::size_t slot_of(std::uint64_t id, std::size_t mask) {
  id ^= id >> 33;
  id *= 0xff51afd7ed558ccdull;
  id ^= id >> 33;
  return static_cast<std::size_t>(id) & mask;
}

}  // namespace

void DistinctCounter::add(std::uint64_t id) {
  if (id == 0) {
    if (!has_zero_) {
      has_zero_ = true;
      ++count_;
    }
    return;
  }
  if (slots_.empty()) slots_.assign(1024, 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = slot_of(id, mask);; i = (i + 1) & mask) {
    if (slots_[i] == id) return;
    if (slots_[i] == 0) {
      if (count_ >= limit_) {
        saturated_ = true;
        return;
      }
      slots_[i] = id;
      ++count_;
      if (count_ * 2 > slots_.size()) grow();  // keep the load factor under 1/2
      return;
    }
  }
}

void DistinctCounter::grow() {
  std::vector<std::uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::uint64_t id : old) {
    if (id == 0) continue;
    std::size_t i = slot_of(id, mask);
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = id;
  }
}

}  // namespace reprise::format
