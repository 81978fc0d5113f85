#pragma once
// Reader: a trace or run file → its header, blocks and records, streaming.
//
// Memory is bounded whatever the file size: one compressed frame and one decompressed block at a
// time, each under the limits in ReaderOptions (a frame that declares more is an error, never
// an allocation). Every block's zstd checksum is checked and every record is run through the
// FlatBuffers verifier before it is handed out.
//
// On a seekable file the footer is read at open and used to skip blocks outside a time window.
// A file without a footer (its writer died) or from a pipe is read frame by frame; the footer,
// if any, is then known at the end. Damage stops reading with an error naming the file and
// byte offset — everything before it has been delivered. With `resync`, the reader instead
// records the damage, skips to the next frame that starts cleanly and goes on (trace repair).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reprise/format/block_codec.hpp"
#include "reprise/format/byte_io.hpp"
#include "reprise/format/records.hpp"
#include "reprise/result.hpp"

namespace reprise::format {

struct ReaderOptions {
  std::uint64_t max_block_bytes = std::uint64_t{256} << 20;  // declared content of one block
  std::uint64_t max_meta_bytes = std::uint64_t{64} << 20;    // header and footer frames
  bool verify = true;      // run the FlatBuffers verifier on every record
  bool use_footer = true;  // read the footer of a seekable file at open
  bool resync = false;     // skip damaged frames instead of stopping (see Damage)
  // Runs: called with each interval frame (SPEC.md 2.3) as the reader passes it, verified;
  // the table is valid during the call only. Damaged interval frames are counted and skipped
  // (the outcomes, not the intervals, are the record of a run).
  std::function<void(const fb::Interval&)> on_interval;
  // Reading a pipe: see ByteSource::open (errc::cancelled once *cancel is true).
  const std::atomic<bool>* cancel = nullptr;
};

// A damaged stretch that a resyncing reader skipped.
struct Damage {
  Error error;
  std::uint64_t offset = 0;  // where the damaged frame started
  std::uint64_t skipped = 0;  // bytes passed over to the next clean frame
};

struct ReaderStats {
  std::uint64_t blocks = 0;
  std::uint64_t records = 0;
  std::uint64_t content_bytes = 0;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t skippable_frames = 0;  // foreign skippable frames passed over
  std::uint64_t interval_frames = 0;   // run interval frames read
  std::uint64_t damaged_intervals = 0; // interval frames whose digest or table was bad
  std::uint64_t blocks_outside_window = 0;
  std::uint64_t damaged_frames = 0;     // resync mode
  std::uint64_t bytes_skipped = 0;      // resync mode
};

// One decompressed block; valid until the next call on the reader.
struct Block {
  std::uint64_t offset = 0;  // of its frame in the file
  std::uint64_t frame_size = 0;
  std::span<const std::uint8_t> content;
};

// One record, size-prefixed; valid until the next call on the reader.
struct Record {
  std::span<const std::uint8_t> bytes;
  std::uint64_t block_offset = 0;
  const fb::Exchange* exchange() const { return exchange_of(bytes); }
  const fb::Outcome* outcome() const { return outcome_of(bytes); }
};

class Reader {
 public:
  // "-" reads standard input. Errors: not_found, io_error, empty_file, bad_magic,
  // unsupported_version, truncated (inside the header).
  static Result<std::unique_ptr<Reader>> open(const std::string& path, ReaderOptions options = {});
  static Result<std::unique_ptr<Reader>> open(std::unique_ptr<ByteSource> source,
                                              ReaderOptions options = {});
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& name() const;
  const fb::FileHeader& header() const;
  FileKind kind() const;
  std::uint64_t header_frame_size() const;

  // The footer once known (at open for a seekable file, else after the last block), or null.
  const fb::Footer* footer() const;
  // Why a footer that was there could not be used ("" when intact or absent).
  const std::string& footer_problem() const;

  // Delivers only blocks whose time range meets [from_ns, to_ns]; with a footer index the
  // others are not even read. Records inside a delivered block are not filtered: callers that
  // want exact bounds check each record's time. Call before the first next().
  void set_window(std::int64_t from_ns, std::int64_t to_ns);

  // The next block, or std::nullopt at the end of the file.
  Result<std::optional<Block>> next_block();
  // The next record, false at the end.
  Result<bool> next(Record& out);

  const ReaderStats& stats() const;
  const std::vector<Damage>& damage() const;

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reprise::format
