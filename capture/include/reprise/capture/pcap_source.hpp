#pragma once
// PcapSource: the libpcap adapter, the only code in reprise that links libpcap. It reads packets
// from pcap/pcapng files (several files are merged in timestamp order) or from a live interface,
// and hands them out one at a time with nanosecond timestamps. No parsing happens here.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reprise/result.hpp"

namespace reprise::capture {

struct Packet {
  std::uint32_t link_type = 0;          // pcap LINKTYPE_ of the packet's interface
  std::span<const std::uint8_t> data;  // captured bytes; valid until the next call to next()
  std::uint32_t wire_length = 0;        // length on the wire (> data.size() when cut by snaplen)
  std::int64_t ts_ns = 0;               // unix ns
};

// The unit of a pcap timestamp's fraction of a second: what pcap_get_tstamp_precision() says a
// handle gives (a live device may not give nanoseconds), or a classic pcap file's magic number.
enum class TimestampUnit { Microsecond, Nanosecond };

// A pcap timestamp (seconds, and the fraction in `unit`) as unix ns. pcapng stores 64-bit
// timestamps: one past the year 2262 (a damaged or forged file) saturates instead of
// overflowing.
constexpr std::int64_t unix_ns(std::int64_t seconds, std::int64_t fraction, TimestampUnit unit) {
  constexpr std::int64_t kMaxSeconds = INT64_MAX / 1'000'000'000 - 10'000;  // room for a 32-bit µs fraction
  if (seconds > kMaxSeconds) return INT64_MAX;
  if (seconds < -kMaxSeconds) return INT64_MIN;
  return seconds * 1'000'000'000 + fraction * (unit == TimestampUnit::Nanosecond ? 1 : 1'000);
}

struct LiveOptions {
  int snaplen = 262144;                       // whole packets, up to 64 KiB GRO super-segments
  int buffer_bytes = 64 << 20;                // kernel ring buffer: bursts are not dropped
  bool immediate = true;                      // deliver packets as they arrive
  int timeout_ms = 100;                       // next() returns Idle after this long
};

struct SourceStats {
  std::uint64_t packets = 0;
  std::uint64_t kernel_received = 0;  // live: pcap_stats ps_recv
  std::uint64_t kernel_dropped = 0;   // live: ps_drop (buffer full)
  std::uint64_t interface_dropped = 0;  // live: ps_ifdrop
  std::uint32_t min_snaplen = 0;      // files: the smallest snaplen of the inputs
};

class PcapSource {
 public:
  enum class Next { Packet, Idle, End };

  // Opens every file; "-" is standard input (a pipe too), at most once. `filter` is a BPF
  // expression ("" for none). Errors name the file and, where the input can tell it (not a pipe),
  // the byte offset of the record or pcapng block that is cut off or corrupt.
  static Result<std::unique_ptr<PcapSource>> open_files(const std::vector<std::string>& paths,
                                                        const std::string& filter);
  static Result<std::unique_ptr<PcapSource>> open_live(const std::string& interface,
                                                       const std::string& filter,
                                                       const LiveOptions& options);
  ~PcapSource();
  PcapSource(const PcapSource&) = delete;
  PcapSource& operator=(const PcapSource&) = delete;

  // The next packet (Packet), nothing for timeout_ms on a live source (Idle), or the end.
  Result<Next> next(Packet& out);
  // Makes a blocked or later next() return End; safe to call from a signal handler.
  void stop();
  bool live() const;
  SourceStats stats();

 private:
  struct Impl;
  explicit PcapSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reprise::capture
