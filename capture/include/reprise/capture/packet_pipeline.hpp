#pragma once
// The packet layer in one piece, for a packet source to feed: captured packet → decode_packet →
// (IP fragments → IpDefragmenter → decode_ip_payload) → TcpReassembler → StreamSink events.
// Still sans-I/O: the source reads pcap records or a live interface and calls add(); time is the
// packet time it passes in.
//
// Every packet is counted once by decode reason (PacketStats::decode); fragments of datagrams
// that cannot carry TCP (the IPv4 protocol or IPv6 next header says so) are counted as not_tcp
// and not buffered.

#include <cstdint>
#include <span>

#include "reprise/capture/ip_defragmenter.hpp"
#include "reprise/capture/packet_decoder.hpp"
#include "reprise/capture/packet_stats.hpp"
#include "reprise/capture/stream_events.hpp"
#include "reprise/capture/tcp_reassembler.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

class PacketPipeline {
 public:
  struct Options {
    IpDefragmenter::Options defrag;
    TcpReassembler::Options tcp;

    Status validate() const;
  };

  // `sinks` must outlive the pipeline. `options` must pass validate(); the constructor throws
  // std::invalid_argument otherwise.
  explicit PacketPipeline(StreamSinkFactory& sinks);
  PacketPipeline(StreamSinkFactory& sinks, Options options);

  // One captured packet: the pcap LINKTYPE_ of its interface, its captured bytes (caplen), its
  // original length on the wire and its timestamp. Returns the decoder's verdict as counted
  // (Fragment for fragments handed to the defragmenter, NotTcp for fragments it skipped).
  DecodeStatus add(std::uint32_t link_type, std::span<const std::uint8_t> captured,
                   std::uint32_t wire_length, std::int64_t ts_ns);

  // Idle expiry at `now_ns` (packet time), for a live source when no packet comes. add() already
  // expires at each packet's time.
  void expire(std::int64_t now_ns);

  // End of input: unfinished fragments are dropped (counted), then TcpReassembler::finish.
  void finish(std::int64_t now_ns);

  PacketStats stats() const;

 private:
  IpDefragmenter defrag_;
  TcpReassembler tcp_;
  DecodeStats decode_;
  std::uint64_t datagrams_not_tcp_ = 0;
};

}  // namespace reprise::capture
