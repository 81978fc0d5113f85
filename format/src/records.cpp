#include "reprise/format/records.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include <arpa/inet.h>

#include <string>

namespace reprise::format {

RecordMeta meta_of(const fb::Exchange& e) {
  return {e.request_first_ns(), e.session_id(), e.connection_id()};
}

RecordMeta meta_of(const fb::Outcome& o) { return {o.intended_ns(), o.session_id(), 0}; }

void pack(flatbuffers::FlatBufferBuilder& fbb, const fb::ExchangeT& e) {
  fbb.Clear();
  fbb.FinishSizePrefixed(fb::Exchange::Pack(fbb, &e));
}

void pack(flatbuffers::FlatBufferBuilder& fbb, const fb::OutcomeT& o) {
  fbb.Clear();
  fbb.FinishSizePrefixed(fb::Outcome::Pack(fbb, &o));
}

bool verify_record(FileKind kind, std::span<const std::uint8_t> record) {
  // The verifier is given the size prefix too: alignment is checked relative to its start,
  // which the block layout keeps 8-aligned.
  // Depth: Exchange → Request → [Header] → Header is 4; 16 leaves room for schema growth.
  // Tables: every header of a large request is a table; 1M bounds the work per record.
  flatbuffers::Verifier v(record.data(), record.size(), /*max_depth=*/16, /*max_tables=*/1000000);
  switch (kind) {
    case FileKind::Trace: return v.VerifySizePrefixedBuffer<fb::Exchange>(nullptr);
    case FileKind::Run: return v.VerifySizePrefixedBuffer<fb::Outcome>(nullptr);
  }
  return false;
}

namespace {

constexpr std::uint64_t kDigestMul = 0x9E3779B97F4A7C15ull;

inline std::uint64_t digest_mix(std::uint64_t h, std::uint64_t w) {
  h ^= w * 0xff51afd7ed558ccdull;
  h = (h << 31) | (h >> 33);
  return h * kDigestMul;
}

// Little-endian word from n <= 8 bytes.
inline std::uint64_t load_word(const std::uint8_t* p, std::size_t n) {
  std::uint64_t w = 0;
  for (std::size_t i = n; i-- > 0;) w = (w << 8) | p[i];
  return w;
}

// splitmix64's finaliser, so that close inputs give far-apart digests.
inline std::uint64_t digest_finish(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

// The address halves are big-endian words (reprise.fbs, Endpoint), moved as whole words: capture
// makes two endpoints per exchange, and a byte-at-a-time loop cost about 80 instructions each.
std::uint64_t big_endian(std::uint64_t v) {
  return std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
}

std::uint64_t load_half(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return big_endian(v);
}

void store_half(std::uint8_t* p, std::uint64_t half) {
  const std::uint64_t v = big_endian(half);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

std::uint64_t digest64(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
  // Eight bytes per step (a multiply-rotate mix), then a finaliser. The byte order is fixed
  // (little-endian loads), so digests are stable across platforms and releases.
  std::uint64_t h = seed ^ (bytes.size() * kDigestMul);
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) h = digest_mix(h, load_word(p, 8));
  if (n > 0) h = digest_mix(h, load_word(p, n) ^ (std::uint64_t{n} << 56));
  return digest_finish(h);
}

void BodyDigest::update(std::span<const std::uint8_t> bytes) {
  size_ += bytes.size();
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  if (n == 0) return;  // (and p may be null)
  if (carried_ > 0) {
    const std::size_t take = std::min(n, 8 - carried_);
    std::memcpy(carry_ + carried_, p, take);
    carried_ += take;
    p += take;
    n -= take;
    if (carried_ < 8) return;
    h_ = digest_mix(h_, load_word(carry_, 8));
    carried_ = 0;
  }
  for (; n >= 8; p += 8, n -= 8) h_ = digest_mix(h_, load_word(p, 8));
  std::memcpy(carry_, p, n);
  carried_ = n;
}

std::uint64_t BodyDigest::finish() const {
  std::uint64_t h = h_;
  if (carried_ > 0) h = digest_mix(h, load_word(carry_, carried_) ^ (std::uint64_t{carried_} << 56));
  return digest_finish(h ^ (size_ * kDigestMul));
}

std::array<std::uint8_t, 16> endpoint_address(const fb::Endpoint& e) {
  std::array<std::uint8_t, 16> a;
  store_half(a.data(), e.address_hi());
  store_half(a.data() + 8, e.address_lo());
  return a;
}

fb::Endpoint make_endpoint(const std::array<std::uint8_t, 16>& address, std::uint16_t port,
                           std::uint8_t family) {
  return fb::Endpoint(load_half(address.data()), load_half(address.data() + 8), port, family);
}

std::string endpoint_to_string(const fb::Endpoint& e) {
  const auto a = endpoint_address(e);
  char text[INET6_ADDRSTRLEN] = "?";
  if (e.family() == 4) {
    ::inet_ntop(AF_INET, a.data() + 12, text, sizeof text);
    return std::string(text) + ":" + std::to_string(e.port());
  }
  if (e.family() == 6) {
    ::inet_ntop(AF_INET6, a.data(), text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(e.port());
  }
  return "?:" + std::to_string(e.port());
}

}  // namespace reprise::format
