// Fuzz target: a trace or run file read as `reprise trace cat` reads it, once stopping at the
// first damage and once resyncing past it as `trace repair` does. Every record the reader
// hands out has passed the verifier, so rendering it as JSON (every field read) must be safe.

#include <vector>

#include "fuzz_check.hpp"
#include "targets.hpp"
#include "reprise/format/reader.hpp"
#include "reprise/format/record_json.hpp"

namespace reprise::fuzz {

int trace_file(const std::uint8_t* data, std::size_t size) {
  using namespace format;
  for (const bool resync : {false, true}) {
    ReaderOptions options;
    options.max_block_bytes = 1 << 20;  // a forged size costs at most this, not 256 MiB
    options.max_meta_bytes = 1 << 20;
    options.resync = resync;
    std::uint64_t intervals = 0;
    options.on_interval = [&](const fb::Interval&) { ++intervals; };
    auto reader = Reader::open(ByteSource::from_memory(std::vector<std::uint8_t>(data, data + size),
                                                       "fuzz.rtrace"),
                               options);
    if (!reader) continue;
    Reader& r = **reader;
    (void)to_json(r.header());
    Record record;
    std::uint64_t records = 0;
    for (;;) {
      auto more = r.next(record);
      if (!more || !*more) break;
      ++records;
      if (r.kind() == FileKind::Trace) {
        FUZZ_CHECK(record.exchange() != nullptr);
        (void)to_json(*record.exchange());
      } else {
        FUZZ_CHECK(record.outcome() != nullptr);
        (void)to_json(*record.outcome());
      }
    }
    FUZZ_CHECK(r.stats().records == records);
    FUZZ_CHECK(r.stats().interval_frames >= intervals);
  }
  return 0;
}

}  // namespace reprise::fuzz
