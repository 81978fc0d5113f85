#pragma once
// Records: the FlatBuffers tables stored in data blocks (Exchange in traces, Outcome in runs),
// how they are packed, verified and summarised for the block index.

#include <array>
#include <cstdint>
#include <string>
#include <span>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "reprise/format/reprise_generated.h"

namespace reprise::format {

using FileKind = fb::FileKind;

// What the writer needs to know of a record without parsing it again: the time it is ordered
// and indexed by (request first byte for exchanges, intended send time for outcomes) and the ids
// counted in the footer totals.
struct RecordMeta {
  std::int64_t time_ns = 0;
  std::uint64_t session_id = 0;
  std::uint64_t connection_id = 0;  // 0 when the record has none (outcomes)
};

RecordMeta meta_of(const fb::Exchange& e);
RecordMeta meta_of(const fb::Outcome& o);

// Packs a record into `fbb` as a size-prefixed FlatBuffer (the builder is cleared first and may
// be reused, so a hot loop does not allocate). The bytes are fbb.GetBufferSpan().
void pack(flatbuffers::FlatBufferBuilder& fbb, const fb::ExchangeT& e);
void pack(flatbuffers::FlatBufferBuilder& fbb, const fb::OutcomeT& o);

// Runs the FlatBuffers verifier over one size-prefixed record for the kind of file it comes
// from. The verifier's depth and table count are bounded, so hostile input costs little.
bool verify_record(FileKind kind, std::span<const std::uint8_t> size_prefixed);

// The root table of a size-prefixed record (verified, or trusted because it was just built).
inline const fb::Exchange* exchange_of(std::span<const std::uint8_t> size_prefixed) {
  return flatbuffers::GetSizePrefixedRoot<fb::Exchange>(size_prefixed.data());
}
inline const fb::Outcome* outcome_of(std::span<const std::uint8_t> size_prefixed) {
  return flatbuffers::GetSizePrefixedRoot<fb::Outcome>(size_prefixed.data());
}

// 64-bit digest of response bodies (Outcome.response_digest): fast, identical on every platform
// and release (SPEC.md gives the algorithm); not cryptographic.
std::uint64_t digest64(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0);

// The streaming variant of digest64 used for response bodies (Outcome.response_digest, SPEC.md
// 6.1): the length is mixed in at the end, so a body can be digested as it arrives, in pieces of
// any size, without knowing its length first.
class BodyDigest {
 public:
  void update(std::span<const std::uint8_t> bytes);
  std::uint64_t finish() const;
  std::uint64_t size() const { return size_; }

 private:
  std::uint64_t h_ = 0;
  std::uint64_t size_ = 0;
  std::uint8_t carry_[8] = {};
  std::size_t carried_ = 0;
};
inline std::uint64_t body_digest(std::span<const std::uint8_t> bytes) {
  BodyDigest d;
  d.update(bytes);
  return d.finish();
}

// Endpoints: the 16-byte address in and out of the on-disk struct, and as text
// ("127.0.0.1:80", "[::1]:8080").
std::array<std::uint8_t, 16> endpoint_address(const fb::Endpoint& e);
fb::Endpoint make_endpoint(const std::array<std::uint8_t, 16>& address, std::uint16_t port,
                           std::uint8_t family);
std::string endpoint_to_string(const fb::Endpoint& e);

}  // namespace reprise::format
