#pragma once
// Counters of the packet layer: decode, IP defragmentation and TCP reassembly. Every packet and
// every payload byte that does not reach a StreamSink as data is counted here under a reason, so
// the closing summary shows that nothing was lost silently. Counters only grow.
//
// for_each(f) calls f(name, value) for every counter, with a stable dotted name ("tcp.gaps") as a
// string literal (so f may take const char*, std::string_view or const std::string&) and a
// std::uint64_t, so a front end prints them all without listing them again. A new counter is
// added to for_each too.

#include <cstdint>

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
    f("decode.packets", packets);
    f("decode.captured_bytes", captured_bytes);
    f("decode.wire_bytes", wire_bytes);
    f("decode.snaplen_truncated", snaplen_truncated);
    f("decode.tcp_segments", tcp_segments);
    f("decode.ip_fragments", ip_fragments);
    f("decode.not_ip", not_ip);
    f("decode.not_tcp", not_tcp);
    f("decode.truncated", truncated);
    f("decode.malformed", malformed);
    f("decode.unsupported_link_type", unsupported_link_type);
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
    f("defrag.fragments", fragments);
    f("defrag.datagrams_reassembled", datagrams_reassembled);
    f("defrag.datagrams_truncated", datagrams_truncated);
    f("defrag.datagrams_not_tcp", datagrams_not_tcp);
    f("defrag.overlapping_fragments", overlapping_fragments);
    f("defrag.conflicting_overlaps", conflicting_overlaps);
    f("defrag.malformed_fragments", malformed_fragments);
    f("defrag.datagrams_timed_out", datagrams_timed_out);
    f("defrag.datagrams_evicted", datagrams_evicted);
    f("defrag.datagrams_unfinished", datagrams_unfinished);
    f("defrag.fragments_dropped", fragments_dropped);
    f("defrag.limit_hits", limit_hits);
  }
};

// TCP reassembly. A payload byte that is not delivered is counted under a reason: retransmitted
// (another copy was kept), before_start, after_fin or after_close; bytes the capture never saw
// are gap bytes.
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
  std::uint64_t bytes_after_close = 0;        // their payload, and that of RSTs without a flow
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
    f("tcp.segments", segments);
    f("tcp.payload_bytes", payload_bytes);
    f("tcp.delivered_bytes", delivered_bytes);
    f("tcp.out_of_order_segments", out_of_order_segments);
    f("tcp.retransmitted_segments", retransmitted_segments);
    f("tcp.retransmitted_bytes", retransmitted_bytes);
    f("tcp.conflicting_overlaps", conflicting_overlaps);
    f("tcp.conflicting_bytes", conflicting_bytes);
    f("tcp.truncated_segments", truncated_segments);
    f("tcp.gaps", gaps);
    f("tcp.gap_bytes", gap_bytes);
    f("tcp.out_of_order_limit_hits", out_of_order_limit_hits);
    f("tcp.bytes_before_start", bytes_before_start);
    f("tcp.bytes_after_fin", bytes_after_fin);
    f("tcp.segments_after_close", segments_after_close);
    f("tcp.bytes_after_close", bytes_after_close);
    f("tcp.rst_without_flow", rst_without_flow);
    f("tcp.flows_opened", flows_opened);
    f("tcp.flows_closed_fin", flows_closed_fin);
    f("tcp.flows_closed_reset", flows_closed_reset);
    f("tcp.flows_closed_idle", flows_closed_idle);
    f("tcp.flows_closed_evicted", flows_closed_evicted);
    f("tcp.flows_closed_end_of_input", flows_closed_end_of_input);
    f("tcp.flows_superseded", flows_superseded);
    f("tcp.flow_limit_hits", flow_limit_hits);
    f("tcp.roles_from_syn", roles_from_syn);
    f("tcp.roles_from_payload", roles_from_payload);
    f("tcp.roles_from_port", roles_from_port);
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
