#pragma once
// Writer: records → a trace or run file (format/SPEC.md).
//
// Records go into an open block; a block is closed when its content reaches `block_bytes` or
// when its first record is `flush_interval` old (checked on every append and on poll()), so a
// writer that is killed loses at most one interval. Closed blocks are compressed by
// `compress_threads` workers in parallel and written in order (bounded queue: the appending
// thread waits when it is full, and the wait is counted). close() writes the footer: the block
// index and totals.
//
// Traces must be appended in request start order: an older record is refused with
// out_of_order, and the writer stays usable. Errors from the sink (disk full, closed pipe) are
// sticky: every later call returns the first one.
//
// One thread appends; the writer is not shared between threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "reprise/format/byte_io.hpp"
#include "reprise/format/records.hpp"
#include "reprise/result.hpp"

namespace reprise::format {

struct WriterOptions {
  std::size_t block_bytes = std::size_t{1} << 20;   // close a block at ~1 MiB of content
  std::chrono::milliseconds flush_interval{1000};   // ... or when it is this old
  int level = 3;                                     // zstd level
  unsigned compress_threads = 2;                     // 0: compress on the appending thread
  std::size_t queue_blocks = 2;                      // closed blocks waiting for a worker
  std::size_t max_record_bytes = std::size_t{64} << 20;
  std::size_t distinct_limit = std::size_t{1} << 20;  // exact session/connection counts up to this
  // The clock behind flush_interval; tests inject their own.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

struct WriterStats {
  std::uint64_t records = 0;
  std::uint64_t blocks = 0;
  std::uint64_t content_bytes = 0;     // uncompressed block content
  std::uint64_t compressed_bytes = 0;  // data frames
  std::uint64_t file_bytes = 0;        // everything written, header and footer included
  std::uint64_t blocks_by_size = 0;    // blocks closed because they were full
  std::uint64_t blocks_by_interval = 0;
  std::uint64_t queue_full_waits = 0;  // times the appender waited for the compressor
  std::uint64_t out_of_order = 0;      // records refused for their order
};

class Writer {
 public:
  // "-" writes to standard output. The header's kind decides the record type; the writer fills
  // in the format version, tool version and (if zero) the creation time.
  static Result<std::unique_ptr<Writer>> open(const std::string& path, fb::FileHeaderT header,
                                              WriterOptions options = {});
  static Result<std::unique_ptr<Writer>> open(std::unique_ptr<ByteSink> sink,
                                              fb::FileHeaderT header, WriterOptions options = {});
  // Closes (writes the footer) if close() was not called; errors are lost then.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Status append(const fb::ExchangeT& exchange);  // traces
  Status append(const fb::OutcomeT& outcome);    // runs
  // Runs: the statistics of one interval, written as an interval frame (SPEC.md 2.3) after the
  // blocks already closed; records still in the open block may follow it in the file.
  Status append_interval(const fb::IntervalT& interval);
  // A record already packed as a size-prefixed FlatBuffer of the file's kind (not verified).
  Status append_record(std::span<const std::uint8_t> size_prefixed, const RecordMeta& meta);

  // Closes the open block and returns once it is written.
  Status flush();
  // Closes the open block if its flush interval has passed (call it from an idle loop).
  Status poll();
  // Writes the last block and the footer (with `end_reason` for runs) and closes the sink.
  Status close(std::string end_reason = {});
  // The same, letting a run fill its own footer fields (correlation statistics) first.
  Status close(std::string end_reason, const std::function<void(fb::FooterT&)>& fill);

  FileKind kind() const;
  // Counters; consistent after flush() or close().
  WriterStats stats() const;
  const std::string& name() const;

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reprise::format
