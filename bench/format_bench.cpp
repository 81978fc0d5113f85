// Writes and reads a realistic mix of exchanges and prints throughput figures, one
// "name value" pair per line, for bench/format.sh to set beside plain zstd on the same bytes.
//
//   reprise_format_bench DIR RECORDS
//
// Leaves DIR/raw.bin (the exchanges as HTTP/1.1 wire bytes) and DIR/trace.rtrace behind.
// "content" throughout is the size of raw.bin, so every MB/s figure counts the same bytes.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "reprise/format/reader.hpp"
#include "reprise/format/writer.hpp"
#include "support/record_generator.hpp"

using namespace reprise;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Writes every exchange as a trace; returns seconds taken, open to close.
double write_trace(const std::string& path, const std::vector<format::fb::ExchangeT>& xs,
                   unsigned threads) {
  format::fb::FileHeaderT h;
  h.kind = format::FileKind::Trace;
  h.source = "bench";
  format::WriterOptions o;
  o.compress_threads = threads;
  const auto t0 = Clock::now();
  auto w = format::Writer::open(path, std::move(h), o);
  if (!w) throw std::runtime_error(w.error().message());
  for (const auto& x : xs)
    if (auto st = (*w)->append(x); !st) throw std::runtime_error(st.error().message());
  if (auto st = (*w)->close(); !st) throw std::runtime_error(st.error().message());
  return seconds_since(t0);
}

// Reads every record and touches every field a consumer would (so nothing is skipped lazily).
double read_trace(const std::string& path, std::uint64_t& records, std::uint64_t& checksum) {
  const auto t0 = Clock::now();
  auto r = format::Reader::open(path);
  if (!r) throw std::runtime_error(r.error().message());
  format::Record rec;
  for (;;) {
    auto more = (*r)->next(rec);
    if (!more) throw std::runtime_error(more.error().message());
    if (!*more) break;
    const auto* e = rec.exchange();
    checksum += e->id() + static_cast<std::uint64_t>(e->request_first_ns());
    if (const auto* rq = e->request()) {
      checksum += rq->method()->size() + rq->target()->size();
      for (const auto* h : *rq->headers()) checksum += h->name()->size() + h->value()->size();
      if (rq->body()) checksum += rq->body()->size();
    }
    if (const auto* rs = e->response()) {
      checksum += rs->status();
      for (const auto* h : *rs->headers()) checksum += h->name()->size() + h->value()->size();
      if (rs->body()) checksum += rs->body()->size();
    }
    ++records;
  }
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: reprise_format_bench DIR RECORDS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::size_t n = std::stoul(argv[2]);
  std::mt19937_64 rng(2026);
  std::vector<format::fb::ExchangeT> xs;
  xs.reserve(n);
  std::uint64_t raw_bytes = 0;
  {
    std::ofstream raw(dir + "/raw.bin", std::ios::binary);
    for (std::size_t i = 0; i < n; ++i) {
      xs.push_back(test::realistic_exchange(rng, i, static_cast<std::int64_t>(i) * 1000));
      const std::string wire = test::wire_bytes(xs.back());
      raw.write(wire.data(), static_cast<std::streamsize>(wire.size()));
      raw_bytes += wire.size();
    }
  }
  const double write_bg = write_trace(dir + "/trace.rtrace", xs, 2);
  const double write_inline = write_trace(dir + "/trace-inline.rtrace", xs, 0);
  std::uint64_t records = 0, checksum = 0;
  const double read = read_trace(dir + "/trace.rtrace", records, checksum);
  std::ifstream f(dir + "/trace.rtrace", std::ios::binary | std::ios::ate);
  const auto trace_bytes = static_cast<std::uint64_t>(f.tellg());

  std::printf("records %zu\n", n);
  std::printf("content_bytes %llu\n", static_cast<unsigned long long>(raw_bytes));
  std::printf("trace_bytes %llu\n", static_cast<unsigned long long>(trace_bytes));
  std::printf("write_seconds %.6f\n", write_bg);
  std::printf("write_inline_seconds %.6f\n", write_inline);
  std::printf("read_seconds %.6f\n", read);
  std::printf("read_records %llu\n", static_cast<unsigned long long>(records));
  std::printf("checksum %llu\n", static_cast<unsigned long long>(checksum));
  return records == n ? 0 : 1;
}
