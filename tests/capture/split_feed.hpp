#pragma once
// Feeds bytes in pieces cut at given offsets, each piece an exactly sized heap copy so that
// reading one byte past it is an AddressSanitizer error (the parsegrind idea, STYLE.md 14).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace reprise::test {

// Calls feed(piece) for bytes[0, at[0]), bytes[at[0], at[1]), …, up to the end. Offsets must
// ascend; empty pieces are skipped.
// `bytes` is any contiguous container of chars or bytes (std::string, std::vector<uint8_t>).
template <typename Bytes, typename Feed>
void split_feed(const Bytes& bytes, std::vector<std::size_t> at, Feed&& feed) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  at.push_back(bytes.size());
  std::size_t from = 0;
  for (std::size_t to : at) {
    if (to <= from) continue;
    const std::vector<std::uint8_t> piece(data + from, data + to);
    feed(std::span<const std::uint8_t>(piece));
    from = to;
  }
}

}  // namespace reprise::test
