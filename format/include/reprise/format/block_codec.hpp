#pragma once
// Blocks (format/SPEC.md, "Blocks"): the content of one data frame is a run of records, each
// a u32 little-endian length L, L bytes of FlatBuffer, and zero padding to the next multiple of
// 8 — so every record starts 8-aligned in the decompressed buffer and FlatBuffers reads its
// scalars aligned. This file builds blocks, compresses them, and walks them back. No I/O.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reprise/format/records.hpp"
#include "reprise/result.hpp"

namespace reprise::format {

// The index entry of one block, before it has a place in a file.
struct BlockSummary {
  std::uint64_t content_size = 0;
  std::int64_t first_ns = 0;  // smallest record time
  std::int64_t last_ns = 0;   // largest record time
  std::uint32_t records = 0;
};

// Accumulates records into one block's content.
class BlockBuilder {
 public:
  // `record` is a size-prefixed FlatBuffer (u32 length + buffer), as pack() produces.
  void add(std::span<const std::uint8_t> record, std::int64_t time_ns);
  bool empty() const { return summary_.records == 0; }
  std::size_t size() const { return content_.size(); }
  const BlockSummary& summary() const { return summary_; }
  std::span<const std::uint8_t> content() const { return content_; }
  // Moves the content out (for a compressor thread) and starts a new, empty block. `recycled`
  // is an old content buffer whose capacity is reused.
  std::vector<std::uint8_t> take(std::vector<std::uint8_t> recycled = {});
  void reserve(std::size_t n) { content_.reserve(n); }
  // Starts a new, empty block, keeping the buffer.
  void clear() {
    content_.clear();
    summary_ = {};
  }

 private:
  std::vector<std::uint8_t> content_;
  BlockSummary summary_;
};

// Compresses block content into one complete zstd frame (content size declared, content
// checksum on) appended to `out`. Owns a reusable zstd context.
class BlockCompressor {
 public:
  explicit BlockCompressor(int level);
  ~BlockCompressor();
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;
  // Returns false only if zstd itself fails (out of memory); `why` says how.
  bool compress(std::span<const std::uint8_t> content, std::vector<std::uint8_t>& out,
                std::string& why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decompresses one data frame (as found by probe_frame) into `content`, verifying zstd's
// content checksum. Errors: checksum_mismatch (damaged bytes), limit_exceeded.
class BlockDecompressor {
 public:
  BlockDecompressor();
  ~BlockDecompressor();
  BlockDecompressor(const BlockDecompressor&) = delete;
  BlockDecompressor& operator=(const BlockDecompressor&) = delete;
  // On failure returns false and sets `why`.
  bool decompress(std::span<const std::uint8_t> frame, std::uint64_t content_size,
                  std::vector<std::uint8_t>& content, std::string& why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Walks the records of a decompressed block, checking lengths, alignment and (optionally)
// running the FlatBuffers verifier on each record before handing it out.
class RecordCursor {
 public:
  RecordCursor(FileKind kind, std::span<const std::uint8_t> content, bool verify)
      : kind_(kind), content_(content), verify_(verify) {}

  struct Item {
    std::span<const std::uint8_t> record;  // size-prefixed: u32 length + FlatBuffer
    std::uint64_t offset = 0;              // of the size prefix, in the block content
  };
  // The next record, std::nullopt at the end; a damaged record fails with bad_record and the
  // offset in `detail` (the caller adds the file and frame).
  Result<std::optional<Item>> next();

 private:
  FileKind kind_;
  std::span<const std::uint8_t> content_;
  std::size_t pos_ = 0;
  bool verify_;
};

}  // namespace reprise::format
