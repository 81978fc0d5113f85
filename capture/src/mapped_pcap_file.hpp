#pragma once
// MappedPcapFile: reads the packet records of a classic pcap file (either byte order,
// microsecond or nanosecond timestamps) straight from a memory map of the file.
//
// Why not libpcap: libpcap reads a file with fread(), so every packet is copied twice (page cache
// to stdio buffer in the kernel, then stdio buffer to libpcap's buffer), with a read() call every
// 4 KiB; for `reprise capture --pcap` that was about a sixth of the parsing thread's time. libpcap
// still opens every file (it validates the header and knows the link type and the BPF filter);
// pcapng and the rare modified pcap formats are read by libpcap as before.
//
// Memory: the file is mapped in windows of `kWindowBytes`; the previous window is unmapped when
// the next is mapped, so resident memory does not grow with the file. A record's bytes are valid
// until the next call to next().
//
// Records are checked as libpcap checks them: a record whose header or data the file cuts short
// is an error naming the file and the byte offset; a captured length past the file's snaplen
// hands out the first snaplen bytes, as libpcap does.

#include <cstdint>
#include <memory>
#include <string>

#include "reprise/result.hpp"

namespace reprise::capture {

class MappedPcapFile {
 public:
  struct Record {
    std::int64_t ts_ns = 0;
    std::uint32_t caplen = 0;       // bytes at `data`
    std::uint32_t wire_length = 0;  // the record's original length
    const std::uint8_t* data = nullptr;
  };
  enum class Next { Record, End };

  static constexpr std::size_t kWindowBytes = std::size_t{16} << 20;

  // A reader for `path`, or nullptr (not an error) when the file is not a classic pcap file.
  // Errors: the file cannot be opened, read or mapped.
  static Result<std::unique_ptr<MappedPcapFile>> open(const std::string& path);
  ~MappedPcapFile();
  MappedPcapFile(const MappedPcapFile&) = delete;
  MappedPcapFile& operator=(const MappedPcapFile&) = delete;

  Result<Next> next(Record& out);

 private:
  MappedPcapFile(std::string path, int fd, std::uint64_t size);
  // Maps [offset, offset + n) of the file if it is not mapped yet. Precondition: within the file.
  Status map(std::uint64_t offset, std::size_t n);
  std::uint32_t u32(const std::uint8_t* p) const;

  std::string path_;
  int fd_;
  std::uint64_t size_;
  bool swapped_ = false;
  bool nanosecond_ = false;
  std::uint32_t snaplen_ = 0;
  std::uint64_t offset_ = 0;  // the next record's header
  std::uint64_t prefetched_ = 0;  // file bytes before it were asked for
  // The current window: file bytes [window_offset_, window_offset_ + window_size_) at window_.
  std::uint8_t* window_ = nullptr;
  std::uint64_t window_offset_ = 0;
  std::size_t window_size_ = 0;
};

}  // namespace reprise::capture
