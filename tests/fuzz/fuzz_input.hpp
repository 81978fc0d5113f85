#pragma once
// FuzzInput: reads a fuzzer's bytes as a little program (an option byte, then operations), so
// one input drives a parser through many calls. Past the end every read returns zeros or an
// empty span: any byte string is a valid input.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace reprise::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : bytes_(data, size) {}

  bool empty() const { return pos_ >= bytes_.size(); }
  std::uint8_t byte() { return empty() ? 0 : bytes_[pos_++]; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | byte() << 8); }
  std::uint32_t u32() { return std::uint32_t{u16()} | std::uint32_t{u16()} << 16; }
  // Up to `n` bytes, fewer at the end.
  std::span<const std::uint8_t> take(std::size_t n) {
    n = std::min(n, bytes_.size() - std::min(pos_, bytes_.size()));
    const auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::span<const std::uint8_t> rest() { return take(bytes_.size()); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

}  // namespace reprise::fuzz
