#pragma once
// Counters of the packet layer: decode, IP defragmentation and TCP reassembly. Every packet and
// every payload byte that does not reach a StreamSink as data is counted here under a reason, so
// the closing summary shows that nothing was lost silently. Counters only grow.
//
// for_each(f) calls f(name, value) for every counter, with a stable dotted name ("tcp.gaps"), so a
// front end prints them all without listing them again. A new counter is added to for_each too.

#include <cstdint>
#include <string_view>

namespace reprise::capture {

// What the decoder made of each packet. The reasons partition `packets`: each packet is counted
// once under tcp_segments, ip_fragments, not_ip, not_tcp, truncated, malformed or
// unsupported_link_type.
struct DecodeStats {
  std::uint64_t packets = 0;
  std::uint64_t captured_bytes = 0;        // sum of caplen
  std::uint64_t wire_bytes = 0;            // sum of the original length
  std::uint64_t snaplen_truncated = 0;     // packets with caplen < original length
  std::uint64_t tcp_segments = 0;          // decoded as TCP and handed to the reassembler
  std::uint64_t ip_fragments = 0;          // TCP (or possibly TCP) fragments handed to the defragmenter
  std::uint64_t not_ip = 0;                // ARP, LLDP, an unknown ethertype or address family
  std::uint64_t not_tcp = 0;               // IP, but UDP, ICMP, ESP, no next header, ...
  std::uint64_t truncated = 0;             // the capture ends inside a link, IP or TCP header
  std::uint64_t malformed = 0;             // a header contradicts itself or the IP length
  std::uint64_t unsupported_link_type = 0;

  template <typename F>
  void for_each(F&& f) const {
    f(std::string_view{"decode.packets"}, packets);
    f(std::string_view{"decode.captured_bytes"}, captured_bytes);
    f(std::string_view{"decode.wire_bytes"}, wire_bytes);
    f(std::string_view{"decode.snaplen_truncated"}, snaplen_truncated);
    f(std::string_view{"decode.tcp_segments"}, tcp_segments);
    f(std::string_view{"decode.ip_fragments"}, ip_fragments);
    f(std::string_view{"decode.not_ip"}, not_ip);
    f(std::string_view{"decode.not_tcp"}, not_tcp);
    f(std::string_view{"decode.truncated"}, truncated);
    f(std::string_view{"decode.malformed"}, malformed);
    f(std::string_view{"decode.unsupported_link_type"}, unsupported_link_type);
  }
};

// IPv4/IPv6 fragment reassembly. A fragment that is not part of a reassembled datagram is counted
// in exactly one of the datagrams_* drop reasons (through fragments_dropped) or malformed_fragments.
struct DefragStats {
  std::uint64_t fragments = 0;               // fragments received
  std::uint64_t datagrams_reassembled = 0;   // datagrams completed
  std::uint64_t datagrams_truncated = 0;     // completed, but a fragment had been cut by snaplen
  std::uint64_t datagrams_not_tcp = 0;       // completed, but the result was no decodable TCP segment
  std::uint64_t overlapping_fragments = 0;   // fragments that repeated bytes already held (first copy kept)
  std::uint64_t conflicting_overlaps = 0;    // ... and the repeated bytes differed
  std::uint64_t malformed_fragments = 0;     // beyond 64 KiB, misaligned, or contradicting the end
  std::uint64_t datagrams_timed_out = 0;     // incomplete when the timeout passed (packet time)
  std::uint64_t datagrams_evicted = 0;       // dropped to stay within max_datagrams / max_bytes
  std::uint64_t datagrams_unfinished = 0;    // still incomplete at finish()
  std::uint64_t fragments_dropped = 0;       // fragments held by dropped datagrams
  std::uint64_t limit_hits = 0;              // times a limit forced an eviction

  template <typename F>
  void for_each(F&& f) const {
    f(std::string_view{"defrag.fragments"}, fragments);
    f(std::string_view{"defrag.datagrams_reassembled"}, datagrams_reassembled);
    f(std::string_view{"defrag.datagrams_truncated"}, datagrams_truncated);
    f(std::string_view{"defrag.datagrams_not_tcp"}, datagrams_not_tcp);
    f(std::string_view{"defrag.overlapping_fragments"}, overlapping_fragments);
    f(std::string_view{"defrag.conflicting_overlaps"}, conflicting_overlaps);
    f(std::string_view{"defrag.malformed_fragments"}, malformed_fragments);
    f(std::string_view{"defrag.datagrams_timed_out"}, datagrams_timed_out);
    f(std::string_view{"defrag.datagrams_evicted"}, datagrams_evicted);
    f(std::string_view{"defrag.datagrams_unfinished"}, datagrams_unfinished);
    f(std::string_view{"defrag.fragments_dropped"}, fragments_dropped);
    f(std::string_view{"defrag.limit_hits"}, limit_hits);
  }
};

// TCP reassembly. Payload bytes received are either delivered, or counted as retransmitted,
// before_start, after_fin, or (never captured) gap bytes.
struct TcpStats {
  std::uint64_t segments = 0;
  std::uint64_t payload_bytes = 0;            // payload length on the wire, all segments
  std::uint64_t delivered_bytes = 0;          // bytes given to on_data
  std::uint64_t out_of_order_segments = 0;    // arrived with a hole before them
  std::uint64_t retransmitted_segments = 0;   // carried no byte that was not already held or delivered
  std::uint64_t retransmitted_bytes = 0;      // bytes received again (first copy kept)
  std::uint64_t conflicting_overlaps = 0;     // segments whose repeated bytes differed from the buffered copy
  std::uint64_t conflicting_bytes = 0;
  std::uint64_t truncated_segments = 0;       // payload cut by snaplen: the missing tail becomes a gap
  std::uint64_t gaps = 0;                     // on_gap calls
  std::uint64_t gap_bytes = 0;                // bytes never captured, reported through on_gap
  std::uint64_t out_of_order_limit_hits = 0;  // holes given up because a direction's buffer was full
  std::uint64_t bytes_before_start = 0;       // mid-stream flows: data older than the first segment seen
  std::uint64_t bytes_after_fin = 0;          // data beyond a FIN (ignored)
  std::uint64_t segments_after_close = 0;     // late ACKs and retransmissions on a closed 4-tuple
  std::uint64_t rst_without_flow = 0;         // RST for a connection never seen (no flow is created)
  std::uint64_t flows_opened = 0;             // connection ids assigned
  std::uint64_t flows_closed_fin = 0;
  std::uint64_t flows_closed_reset = 0;
  std::uint64_t flows_closed_idle = 0;
  std::uint64_t flows_closed_evicted = 0;
  std::uint64_t flows_closed_end_of_input = 0;
  std::uint64_t flows_superseded = 0;         // a new SYN replaced an open flow (closed as IdleExpired)
  std::uint64_t flow_limit_hits = 0;          // max_flows reached (an open flow was evicted)
  std::uint64_t roles_from_syn = 0;
  std::uint64_t roles_from_payload = 0;
  std::uint64_t roles_from_port = 0;

  template <typename F>
  void for_each(F&& f) const {
    f(std::string_view{"tcp.segments"}, segments);
    f(std::string_view{"tcp.payload_bytes"}, payload_bytes);
    f(std::string_view{"tcp.delivered_bytes"}, delivered_bytes);
    f(std::string_view{"tcp.out_of_order_segments"}, out_of_order_segments);
    f(std::string_view{"tcp.retransmitted_segments"}, retransmitted_segments);
    f(std::string_view{"tcp.retransmitted_bytes"}, retransmitted_bytes);
    f(std::string_view{"tcp.conflicting_overlaps"}, conflicting_overlaps);
    f(std::string_view{"tcp.conflicting_bytes"}, conflicting_bytes);
    f(std::string_view{"tcp.truncated_segments"}, truncated_segments);
    f(std::string_view{"tcp.gaps"}, gaps);
    f(std::string_view{"tcp.gap_bytes"}, gap_bytes);
    f(std::string_view{"tcp.out_of_order_limit_hits"}, out_of_order_limit_hits);
    f(std::string_view{"tcp.bytes_before_start"}, bytes_before_start);
    f(std::string_view{"tcp.bytes_after_fin"}, bytes_after_fin);
    f(std::string_view{"tcp.segments_after_close"}, segments_after_close);
    f(std::string_view{"tcp.rst_without_flow"}, rst_without_flow);
    f(std::string_view{"tcp.flows_opened"}, flows_opened);
    f(std::string_view{"tcp.flows_closed_fin"}, flows_closed_fin);
    f(std::string_view{"tcp.flows_closed_reset"}, flows_closed_reset);
    f(std::string_view{"tcp.flows_closed_idle"}, flows_closed_idle);
    f(std::string_view{"tcp.flows_closed_evicted"}, flows_closed_evicted);
    f(std::string_view{"tcp.flows_closed_end_of_input"}, flows_closed_end_of_input);
    f(std::string_view{"tcp.flows_superseded"}, flows_superseded);
    f(std::string_view{"tcp.flow_limit_hits"}, flow_limit_hits);
    f(std::string_view{"tcp.roles_from_syn"}, roles_from_syn);
    f(std::string_view{"tcp.roles_from_payload"}, roles_from_payload);
    f(std::string_view{"tcp.roles_from_port"}, roles_from_port);
  }
};

// All counters of the packet layer, as PacketPipeline::stats() returns them.
struct PacketStats {
  DecodeStats decode;
  DefragStats defrag;
  TcpStats tcp;

  template <typename F>
  void for_each(F&& f) const {
    decode.for_each(f);
    defrag.for_each(f);
    tcp.for_each(f);
  }
};

}  // namespace reprise::capture
