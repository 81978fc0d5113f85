#pragma once
// Helpers shared by the format tests: write records to memory, read them back.

#include <memory>
#include <random>
#include <vector>

#include "reprise/format/reader.hpp"
#include "reprise/format/writer.hpp"
#include "support/record_generator.hpp"

namespace reprise::test {

inline format::fb::FileHeaderT trace_header() {
  format::fb::FileHeaderT h;
  h.kind = format::FileKind::Trace;
  h.epoch_unix_ns = 1'700'000'000'000'000'000;
  h.source = "test";
  return h;
}

// `n` random exchanges, 1 ms apart, from a fixed seed.
inline std::vector<format::fb::ExchangeT> random_exchanges(std::size_t n, std::uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::vector<format::fb::ExchangeT> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(random_exchange(rng, i + 1, static_cast<std::int64_t>(i) * 1'000'000));
  return out;
}

// Writes the exchanges as a trace into memory with small blocks (many block boundaries).
inline std::vector<std::uint8_t> write_trace(const std::vector<format::fb::ExchangeT>& xs,
                                             std::size_t block_bytes = 64 * 1024) {
  std::vector<std::uint8_t> bytes;
  format::WriterOptions o;
  o.block_bytes = block_bytes;
  auto w = format::Writer::open(std::make_unique<format::MemorySink>(&bytes), trace_header(), o);
  if (!w) throw std::runtime_error(w.error().message());
  for (const auto& x : xs) {
    auto st = (*w)->append(x);
    if (!st) throw std::runtime_error(st.error().message());
  }
  auto st = (*w)->close();
  if (!st) throw std::runtime_error(st.error().message());
  return bytes;
}

struct ReadBack {
  std::vector<format::fb::ExchangeT> records;
  std::optional<Error> error;  // the error that ended reading, if any
  bool footer = false;
};

inline ReadBack read_trace(std::vector<std::uint8_t> bytes, format::ReaderOptions o = {}) {
  ReadBack out;
  auto r = format::Reader::open(format::ByteSource::from_memory(std::move(bytes), "mem.rtrace"), o);
  if (!r) {
    out.error = r.error();
    return out;
  }
  format::Record rec;
  for (;;) {
    auto more = (*r)->next(rec);
    if (!more) {
      out.error = more.error();
      break;
    }
    if (!*more) break;
    format::fb::ExchangeT e;
    rec.exchange()->UnPackTo(&e);
    out.records.push_back(std::move(e));
  }
  out.footer = (*r)->footer() != nullptr;
  return out;
}

}  // namespace reprise::test
