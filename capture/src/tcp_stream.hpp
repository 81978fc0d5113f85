#pragma once
// One direction of a TCP connection: puts payload in sequence order and releases it to a
// StreamSink. Private to the capture library; TcpReassembler owns two per flow and decides when a
// stream may deliver (once the connection's roles are known and its sink is open).
//
// Positions: 32-bit sequence numbers are unwrapped into 64-bit positions relative to next_ (the
// first byte not yet delivered): a number within 2^31 of next_ maps to the nearest position, so
// wrap-around at 2^32 needs no special case anywhere else.
//
// State: pending_ holds disjoint chunks at or after next_, each either captured bytes or a
// "missing" placeholder for payload the capture cut (snaplen), which is known lost and reported
// as a gap as soon as it is reached. Between next_ and the first chunk is a hole: bytes not seen
// yet. A hole is given up (on_gap with its exact size, then delivery resumes after it) when
//   - the peer has acknowledged past its start: the receiver has the bytes, the capture missed them;
//   - this direction's buffer passed its limit (bytes or chunks), counted in out_of_order_limit_hits;
//   - the connection ends (drain()).
// A hole with nothing known after it (no chunk, no FIN) is only given up by drain(), up to the
// peer's ACK; an ACK exactly one past next_ is taken as the ACK of a FIN the capture missed and
// reports nothing. So a lost FIN together with lost data reports one byte more than was lost.
//
// Overlaps: the first captured copy of a byte wins. Bytes that arrive again (already delivered or
// buffered) are counted as retransmitted; where a buffered copy exists and differs, the segment is
// counted as a conflicting overlap. Delivered bytes are not kept, so a conflict with data already
// delivered is counted as a plain retransmission. Captured bytes replace a missing placeholder.
//
// Timestamps: on_data carries the arrival time of the packet that carried the bytes, raised to the
// time of the previous event in this direction. Times never decrease within a direction, and bytes
// that waited in the buffer for a hole to fill carry the time of the packet that filled it. A gap
// carries the time of what follows it (the next chunk or the FIN), or, when it ends short of that,
// the time of the peer's ACK that proved it lost; a gap for bytes cut by snaplen the time of the
// cut packet; a half-close the time of the FIN packet; each raised in the same way.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "reprise/capture/packet_stats.hpp"
#include "reprise/capture/stream_events.hpp"

namespace reprise::capture {

class TcpStream {
 public:
  struct Limits {
    std::size_t max_bytes = 0;   // captured bytes buffered
    std::size_t max_chunks = 0;  // chunks buffered (bounds the per-chunk overhead of tiny segments)
  };

  TcpStream(Limits limits, TcpStats& stats) : limits_(limits), stats_(&stats) {}

  bool started() const { return started_; }
  bool syn_seen() const { return syn_seen_; }
  std::uint32_t isn() const { return isn_; }
  // Started, but nothing buffered, delivered or closed yet: a SYN may still restart it.
  bool pristine() const { return !started_ || (next_ == start_ && pending_.empty() && !fin_); }

  // Starts after a SYN: the first data byte is isn + 1.
  void start_from_syn(std::uint32_t isn);
  // Starts a stream whose SYN was not captured, at the first segment carrying data or FIN. Bytes
  // the peer had already acknowledged (a keep-alive probe, a retransmission) are not the start:
  // when the peer's latest ACK lies ahead of `seq` (by less than 1 GiB), the stream starts there.
  void start_mid_stream(std::uint32_t seq);

  // Payload at `seq`: `length` bytes on the wire, of which the first captured.size() captured.
  // With a sink, data that is next in order is delivered at once; without one (roles not known
  // yet) everything is buffered.
  void add_data(std::uint32_t seq, std::span<const std::uint8_t> captured, std::uint32_t length,
                std::int64_t ts_ns, StreamSink* sink, Direction dir);
  // A FIN at `seq` (the position after the segment's payload). The first FIN seen counts.
  void add_fin(std::uint32_t seq, std::int64_t ts_ns);
  // An ACK sent by the other direction: the highest is kept (the latest, before start).
  void add_peer_ack(std::uint32_t ack, std::int64_t ts_ns);

  // Delivers what is in order, giving up holes proven lost by the peer's ACK or the limit; emits
  // on_half_close once the FIN is reached.
  void flush(StreamSink& sink, Direction dir) { release(sink, dir, false); }
  // The connection ends: gives up every hole and delivers everything buffered.
  void drain(StreamSink& sink, Direction dir) { release(sink, dir, true); }

  bool over_limit() const {
    return buffered_bytes_ > limits_.max_bytes || pending_.size() > limits_.max_chunks;
  }
  bool half_closed() const { return half_closed_; }
  // The first captured bytes of the stream while nothing was delivered (for role detection);
  // empty when they have not arrived.
  std::span<const std::uint8_t> first_bytes() const;
  // Arrival time of the first buffered chunk, to look at the earlier side first.
  std::int64_t first_chunk_ts() const;
  // Frees the buffer (the connection is closed).
  void clear();

 private:
  struct Chunk {
    std::vector<std::uint8_t> bytes;  // empty for a missing placeholder
    std::int64_t length = 0;
    bool missing = false;
    std::int64_t ts_ns = 0;
  };

  std::int64_t unwrap(std::uint32_t seq) const;
  void start_at(std::uint32_t first_byte, bool syn);
  // Stores [a, b) (bytes from `data`, or a placeholder when missing) where no captured copy is
  // held yet. Returns the number of positions newly stored.
  std::int64_t insert(std::int64_t a, std::int64_t b, const std::uint8_t* data, bool missing,
                      std::int64_t ts_ns);
  void release(StreamSink& sink, Direction dir, bool give_up_all);
  void emit_data(StreamSink& sink, Direction dir, std::span<const std::uint8_t> bytes,
                 std::int64_t ts_ns);
  void emit_gap(StreamSink& sink, Direction dir, std::int64_t missing, std::int64_t ts_ns,
                GapCause cause);
  std::int64_t raise(std::int64_t ts_ns);

  Limits limits_;
  TcpStats* stats_;
  bool started_ = false;
  bool syn_seen_ = false;
  bool half_closed_ = false;
  std::uint32_t isn_ = 0;
  std::int64_t start_ = 0;    // position of the first byte of the stream
  std::int64_t next_ = 0;     // position of the first byte not delivered
  std::int64_t max_end_ = 0;  // end of the highest data seen (out-of-order detection)
  std::map<std::int64_t, Chunk> pending_;
  std::size_t buffered_bytes_ = 0;
  std::optional<std::int64_t> fin_;
  std::int64_t fin_ts_ = 0;
  std::optional<std::int64_t> peer_ack_;
  std::int64_t peer_ack_ts_ = 0;
  std::optional<std::uint32_t> early_peer_ack_;  // latest peer ACK seen before start
  std::int64_t last_ts_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace reprise::capture
