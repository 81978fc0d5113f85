#pragma once
// TCP reassembly: decoded segments → per-connection StreamSink events in stream order.
//
// In:  TcpSegment views (packet_decoder.hpp) in capture order, each with its packet time; and
//      expire(now)/finish(now) from the driver. No clock is read: all time is packet time.
// Out: for each connection, StreamSinkFactory::open(info), then on_data / on_gap /
//      on_half_close in stream order, then exactly one on_close, then release(sink).
//      Sinks must not call back into the reassembler. open() may return nullptr to ignore a
//      connection (a filter): its packets are still tracked, and release() is not called for it.
//
// Connections. A flow is the 4-tuple; both directions belong to one connection. Connection ids
// count from 1 in order of each flow's first packet (a sink may be opened later, once the roles
// are known). A RST for an unknown flow creates none. After FIN/FIN or RST the 4-tuple is kept
// as closed for closed_timeout: late ACKs and retransmissions are counted and dropped, and a SYN
// on it starts a new connection with a new id (port reuse). A SYN with a new ISN on an open flow
// whose stream already carried data also starts a new connection; the old one is closed as
// IdleExpired (its end was not captured) and counted in flows_superseded.
//
// Roles. The SYN sender is the client (the SYN+ACK sender is the server when the SYN was missed).
// Without a SYN, the first bytes of each direction are looked at, earliest first: a request line
// (method token, SP, target, SP "HTTP/1.") marks the client, a status line ("HTTP/1.") the server;
// a line cut short by the segment end counts when its method is a well-known one. When both
// directions' first bytes say nothing, or a FIN/RST arrives, or a direction's buffer fills before
// they do, the side on the lower port is the server (a tie: the first packet's destination).
// Until the roles are known the sink is not opened and both directions buffer (within limits).
//
// Streams (see src/tcp_stream.hpp for the exact rules): out-of-order data is buffered up to
// max_out_of_order_bytes / _segments per direction; retransmissions are dropped; overlaps keep the
// first copy and count conflicting bytes; sequence numbers wrap at 2^32; a stream without SYN
// starts at its first segment carrying data or FIN (or at the peer's earlier ACK, if ahead).
// Bytes never captured become on_gap(dir, exact count) — never invented bytes — when the peer
// ACKs past the hole, when the buffer limit is passed, when the segment was cut by snaplen, or
// when the connection ends.
//
// Timestamps. on_data: the arrival time of the packet carrying the bytes, raised to the previous
// event's time in that direction (so never decreasing per direction): bytes released from the
// out-of-order buffer carry the time of the packet that filled the hole before them; bytes
// released by giving a hole up keep their own arrival time. on_gap: the time of the data (or FIN)
// right after the gap, else of the ACK that proved it lost; for bytes cut by snaplen, the cut
// packet's time. on_half_close: the FIN's packet time. (on_gap and on_half_close are raised
// like on_data.)
// on_close: Fin and Reset at the packet that completed the close; IdleExpired, Evicted and
// EndOfInput at the connection's last packet (not at the expire()/finish() time, which may be
// much later).
//
// Closing. Both FINs delivered → on_close(Fin). RST → whatever is buffered is delivered (holes
// given up), then on_close(Reset). No packet for idle_timeout (packet time) → IdleExpired; the
// flow table full (max_flows) → the least recently used open flow is Evicted (counted in
// flow_limit_hits); finish() → EndOfInput. In each case the buffer is drained first.

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <unordered_map>

#include "reprise/capture/packet_decoder.hpp"
#include "reprise/capture/packet_stats.hpp"
#include "reprise/capture/stream_events.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

class TcpReassembler {
 public:
  struct Options {
    // Open + recently closed 4-tuples. An open connection holds about 4 KiB (more with a message
    // in progress): 50,000 keep peak memory near 200 MB when every one is open at once.
    std::size_t max_flows = 50'000;
    std::size_t max_out_of_order_bytes = 1u << 20;     // per direction
    std::size_t max_out_of_order_segments = 4096;      // per direction
    std::int64_t idle_timeout_ns = 300'000'000'000;    // 5 min without a packet
    std::int64_t closed_timeout_ns = 30'000'000'000;   // how long a closed 4-tuple is remembered

    // errc::bad_option when a limit is zero or a timeout not positive.
    Status validate() const;
  };

  // `sinks` must outlive the reassembler. `options` must pass validate(); the constructor throws
  // std::invalid_argument otherwise (a configuration error at start-up).
  explicit TcpReassembler(StreamSinkFactory& sinks);
  TcpReassembler(StreamSinkFactory& sinks, Options options);
  // Releases the sinks of connections still open, without on_close: call finish() first.
  ~TcpReassembler();
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // One segment. Expires idle flows first (at the segment's time).
  void add(const TcpSegment& segment);
  // Closes flows idle for idle_timeout at `now_ns` and forgets closed 4-tuples past
  // closed_timeout. Time never goes back: `now_ns` below a time already seen is ignored.
  void expire(std::int64_t now_ns);
  // End of input: expire(now_ns), then every open connection is drained and closed as EndOfInput,
  // in connection id order. The reassembler is empty afterwards.
  void finish(std::int64_t now_ns);

  const TcpStats& stats() const { return stats_; }
  std::size_t open_flows() const { return active_.size(); }
  std::size_t tracked_flows() const { return flows_.size(); }

 private:
  struct FlowKey {
    std::array<std::uint8_t, 16> address_a{};
    std::array<std::uint8_t, 16> address_b{};
    std::uint16_t port_a = 0;
    std::uint16_t port_b = 0;
    // Runs for every packet: whole words, not std::array's byte-wise compare (a memcmp call each).
    bool operator==(const FlowKey& o) const;
  };
  struct FlowKeyHash {
    std::size_t operator()(const FlowKey& key) const;
  };
  struct Flow;

  Flow& create(const FlowKey& key, int side, const TcpSegment& segment);
  void process(Flow& flow, int side, const TcpSegment& segment);
  bool starts_new_connection(const Flow& flow, int side, const TcpSegment& segment) const;
  void decide_from_payload(Flow& flow);
  void open(Flow& flow, int client_side, RoleSource source);
  void close(Flow& flow, CloseReason reason, std::int64_t ts_ns);
  void forget(Flow& flow);
  void touch(Flow& flow, std::int64_t ts_ns);
  void make_room();

  StreamSinkFactory& sinks_;
  Options options_;
  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;
  std::list<Flow*> active_;  // open flows, most recently used first
  std::list<Flow*> closed_;  // closed 4-tuples kept for closed_timeout, most recent first
  std::uint64_t next_id_ = 1;
  std::int64_t now_ns_ = std::numeric_limits<std::int64_t>::min();
  TcpStats stats_;
};

}  // namespace reprise::capture
