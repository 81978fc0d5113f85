#pragma once
// PcapFileReader: reads the packet records of a classic pcap file (either byte order,
// microsecond or nanosecond timestamps) in large reads into a buffer of its own.
//
// Why not libpcap: libpcap reads a file with fread(), so every packet is copied twice (page cache
// to the stdio buffer, then to libpcap's buffer), with a read() call every 4 KiB; for `reprise
// capture --pcap` that was about a tenth of the parsing thread's time. Here one read() fills
// `kBufferBytes` (small enough to stay in the CPU's cache until parsed) and packets are handed out
// where they lie. libpcap still opens every file (it validates the header and knows the link type
// and the BPF filter); pcapng and the rare modified pcap formats are read by libpcap as before.
//
// Not a memory map: a map was as fast only with software prefetching, and a file truncated while
// mapped (tcpdump -W reuses its ring files) kills the process with SIGBUS; read() just ends.
//
// A record's bytes are valid until the next call to next(). Records are checked as libpcap checks
// them: a record whose header or data the file cuts short is an error naming the file and the
// byte offset, after every whole record before it; a captured length past the file's snaplen
// hands out the first snaplen bytes, as libpcap does. Memory: the buffer, grown only for a packet
// larger than it (at most kMaxCaplen).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reprise/capture/pcap_source.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

class PcapFileReader {
 public:
  struct Record {
    std::int64_t ts_ns = 0;
    std::uint32_t caplen = 0;       // bytes at `data`
    std::uint32_t wire_length = 0;  // the record's original length
    const std::uint8_t* data = nullptr;
  };
  enum class Next { Record, End };

  static constexpr std::size_t kBufferBytes = std::size_t{64} << 10;
  // Larger captured lengths are corrupt headers, not packets (libpcap's largest per-link-type
  // snaplen is 128 MiB, for D-Bus; everything else is at most 8 MiB).
  static constexpr std::uint32_t kMaxCaplen = std::uint32_t{128} << 20;

  // A reader for `path`, or nullptr (not an error) when it is not a regular file holding a
  // classic pcap. Errors: the file cannot be opened or read.
  static Result<std::unique_ptr<PcapFileReader>> open(const std::string& path);
  ~PcapFileReader();
  PcapFileReader(const PcapFileReader&) = delete;
  PcapFileReader& operator=(const PcapFileReader&) = delete;

  Result<Next> next(Record& out);

 private:
  PcapFileReader(std::string path, int fd);
  // Moves the unread bytes to the front of the buffer.
  void compact();
  // Makes `n` bytes from the read position available; false at the end of the file before that.
  Result<bool> fill(std::size_t n);
  std::uint32_t u32(const std::uint8_t* p) const;

  std::string path_;
  int fd_;
  bool swapped_ = false;
  TimestampUnit unit_ = TimestampUnit::Microsecond;
  std::uint32_t snaplen_ = 0;
  std::vector<std::uint8_t> buf_;
  std::size_t rd_ = 0, end_ = 0;  // unread bytes: buf_[rd_, end_)
  std::uint64_t buf_offset_ = 0;  // file offset of buf_[0]
};

}  // namespace reprise::capture
