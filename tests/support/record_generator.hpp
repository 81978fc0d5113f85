#pragma once
// Seeded generators of trace and run records for tests and benchmarks.
//  - random_*: every field set, values drawn at random (round-trip tests).
//  - realistic_exchange: an HTTP-like mix — API calls with JSON bodies, static assets, a few
//    large bodies — for benchmarks and size measurements.

#include <cstdint>
#include <random>
#include <string>

#include "reprise/format/records.hpp"

namespace reprise::test {

namespace fb = reprise::format::fb;

fb::ExchangeT random_exchange(std::mt19937_64& rng, std::uint64_t id, std::int64_t start_ns);
fb::OutcomeT random_outcome(std::mt19937_64& rng, std::uint64_t exchange_id, std::int64_t intended_ns);
fb::ExchangeT realistic_exchange(std::mt19937_64& rng, std::uint64_t id, std::int64_t start_ns);

// The exchange as HTTP/1.1 wire bytes (request then response), for comparing with plain zstd.
std::string wire_bytes(const fb::ExchangeT& e);

}  // namespace reprise::test
