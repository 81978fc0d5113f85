#pragma once
// IPv4 and IPv6 fragment reassembly, on packet time.
//
// In:  IpFragment views from decode_packet (status Fragment), in capture order.
// Out: when a fragment completes its datagram, a ReassembledDatagram: the datagram's payload (the
//      bytes after the IP header, for IPv6 after the fragment header) with its protocol, ready for
//      decode_ip_payload. Datagrams are keyed by (version, source, destination, id, and for IPv4
//      the protocol), as RFC 791 and RFC 8200 key them.
//
// Overlaps: the first captured copy of a byte wins; a fragment repeating bytes already held is
// counted, and counted again as a conflict when the repeated bytes differ (the classic evasion).
// A fragment cut by snaplen still counts towards completion with its wire length; the datagram
// then completes with data.size() < length and the TCP layer reports the missing bytes as a gap.
//
// Limits (Options): datagrams in progress, bytes held across them, and the time from a datagram's
// first fragment (packet time) after which it is dropped. When a limit is reached the oldest
// datagram is dropped. Every drop is counted in DefragStats; nothing is dropped silently.

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "reprise/capture/packet_decoder.hpp"
#include "reprise/capture/packet_stats.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

struct ReassembledDatagram {
  std::uint8_t version = 0;
  std::array<std::uint8_t, 16> src{};
  std::array<std::uint8_t, 16> dst{};
  std::uint8_t protocol = 0;               // from the fragment at offset 0
  std::span<const std::uint8_t> data;      // the captured payload, up to the first uncaptured byte
  std::uint32_t length = 0;                // payload length on the wire
  std::int64_t ts_ns = 0;                  // time of the fragment that completed the datagram
};

class IpDefragmenter {
 public:
  struct Options {
    std::size_t max_datagrams = 1024;             // datagrams in progress at once
    std::size_t max_bytes = 16u << 20;            // fragment bytes held across all datagrams
    std::int64_t timeout_ns = 30'000'000'000;     // from the first fragment, packet time (Linux: 30 s)

    // errc::bad_option when a limit is zero or negative.
    Status validate() const;
  };

  // `options` must pass validate(); the constructor throws std::invalid_argument otherwise
  // (a configuration error at start-up). (Two constructors: GCC rejects `Options options = {}`
  // for a nested struct with member initializers.)
  IpDefragmenter();
  explicit IpDefragmenter(Options options);

  // Adds one fragment; first expires datagrams whose timeout passed at fragment.ts_ns. Returns the
  // datagram this fragment completed, if any; its data stays valid until the next call.
  std::optional<ReassembledDatagram> add(const IpFragment& fragment);

  // Drops datagrams whose first fragment is older than the timeout at `now_ns` (packet time).
  void expire(std::int64_t now_ns);

  // End of input: every datagram still in progress is dropped and counted as unfinished.
  void finish();

  const DefragStats& stats() const { return stats_; }
  std::size_t datagrams_in_progress() const { return pending_.size(); }
  std::size_t bytes_held() const { return bytes_held_; }

 private:
  struct Key {
    std::uint8_t version = 0;
    std::uint8_t protocol = 0;  // IPv4 only; 0 for IPv6
    std::uint32_t id = 0;
    std::array<std::uint8_t, 16> src{};
    std::array<std::uint8_t, 16> dst{};
    auto operator<=>(const Key&) const = default;
  };
  struct Pending;
  using Table = std::map<Key, Pending>;

  struct Pending {
    std::int64_t first_ns = 0;
    std::map<std::uint32_t, std::vector<std::uint8_t>> pieces;  // captured bytes, disjoint
    std::map<std::uint32_t, std::uint32_t> covered;             // wire ranges seen, merged
    std::optional<std::uint32_t> total;                         // set by the last fragment
    std::uint8_t protocol = 0;
    std::size_t held = 0;
    std::size_t fragments = 0;
    bool cut = false;
    std::list<Table::iterator>::iterator age;                   // position in oldest_
  };

  enum class DropReason { TimedOut, Evicted, Malformed, Unfinished };
  void drop(Table::iterator it, DropReason reason);
  void evict_oldest();
  bool store(Pending& p, const IpFragment& f);  // false: malformed, drop the datagram
  std::optional<ReassembledDatagram> complete(Table::iterator it, const IpFragment& last);

  Options options_;
  Table pending_;
  std::list<Table::iterator> oldest_;  // by first fragment, oldest at the front
  std::size_t bytes_held_ = 0;
  std::int64_t now_ns_ = std::numeric_limits<std::int64_t>::min();
  std::vector<std::uint8_t> out_;
  DefragStats stats_;
};

}  // namespace reprise::capture
