#pragma once
// Byte sources and sinks for the reader and writer: a file, standard input/output ("-"), or
// memory (tests, and tools that build a file in memory). This is the only place the format
// library touches file descriptors.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reprise/result.hpp"

namespace reprise::format {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all of `bytes` or fails with output_error.
  virtual Status write(std::span<const std::uint8_t> bytes) = 0;
  // Flushes to the operating system (for a file: fdatasync is not called — a killed process
  // loses nothing that was written, a lost machine may).
  virtual Status flush() { return {}; }
  virtual Status close() { return {}; }
  virtual std::uint64_t position() const = 0;
  virtual const std::string& name() const = 0;
};

// "-" is standard output. A file is created with mode 0600 (traces may hold secrets) and
// truncated; an existing file keeps its owner but is also set to 0600.
Result<std::unique_ptr<ByteSink>> open_sink(const std::string& path);

// A sink that collects bytes in memory (tests; building a file before writing it elsewhere).
class MemorySink final : public ByteSink {
 public:
  explicit MemorySink(std::vector<std::uint8_t>* out, std::string name = "<memory>")
      : out_(out), name_(std::move(name)) {}
  Status write(std::span<const std::uint8_t> bytes) override;
  std::uint64_t position() const override { return out_->size(); }
  const std::string& name() const override { return name_; }

 private:
  std::vector<std::uint8_t>* out_;
  std::string name_;
};

// A buffered source with peek/consume, so frame probing reads each byte from the OS once.
// Memory use is the largest peek() asked for plus one read chunk.
class ByteSource {
 public:
  // "-" is standard input. Errors: not_found (missing, no permission), io_error (a directory,
  // unreadable). `cancel`: a source that is not a regular file (a pipe, a terminal) waits for
  // bytes at most 50 ms at a time, and fails with errc::cancelled once *cancel is true; else a
  // reader thread could not be stopped while the writer of the pipe is quiet.
  static Result<std::unique_ptr<ByteSource>> open(const std::string& path,
                                                  const std::atomic<bool>* cancel = nullptr);
  static std::unique_ptr<ByteSource> from_memory(std::vector<std::uint8_t> bytes,
                                                 std::string name = "<memory>");
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  const std::string& name() const { return name_; }
  bool seekable() const { return seekable_; }
  std::uint64_t size() const { return size_; }  // seekable sources only
  std::uint64_t position() const { return position_; }

  // Makes up to `n` bytes from the current position available; fewer only at end of input.
  Result<std::span<const std::uint8_t>> peek(std::size_t n);
  // Moves the position on by `n` bytes (n may exceed what was peeked on a seekable source).
  Status consume(std::uint64_t n);
  // Seekable sources only.
  Status seek(std::uint64_t offset);
  // Reads `n` bytes at `offset` without moving the position (seekable sources only).
  Result<std::vector<std::uint8_t>> read_at(std::uint64_t offset, std::size_t n);

 private:
  ByteSource() = default;
  Result<std::size_t> fill(std::size_t want);

  // Waits until the descriptor is readable; errc::cancelled once *cancel_ is true.
  Status wait_readable();

  std::string name_;
  int fd_ = -1;
  const std::atomic<bool>* cancel_ = nullptr;
  bool seekable_ = false;
  bool eof_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;        // absolute offset of buf_[begin_]
  std::vector<std::uint8_t> buf_;
  std::size_t begin_ = 0, end_ = 0;   // buffered bytes are buf_[begin_, end_)
  std::vector<std::uint8_t> memory_;  // from_memory() sources
};

}  // namespace reprise::format
