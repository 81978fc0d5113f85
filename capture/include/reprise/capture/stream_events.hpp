#pragma once
// The seam between TCP reassembly and HTTP exchange assembly.
//
// The reassembler (tcp_reassembler.hpp) turns packets into, per connection, an ordered series of
// events: data in one direction, a gap (bytes that were never captured), and a close. The HTTP
// assembler (exchange_assembler.hpp) consumes exactly these events and nothing else, so each side
// is tested alone: the reassembler with synthetic segments, the assembler with synthetic streams.
//
// Time is packet time in ns (the pcap timestamp), passed in; nothing here reads a clock.

#include <array>
#include <cstdint>
#include <span>

namespace reprise::capture {

// An IP endpoint; IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d), as in the trace format.
struct IpEndpoint {
  std::array<std::uint8_t, 16> address{};
  std::uint16_t port = 0;
  std::uint8_t family = 0;  // 4 or 6; 0 unknown

  friend bool operator==(const IpEndpoint&, const IpEndpoint&) = default;
};

enum class Direction : std::uint8_t {
  ClientToServer,  // requests
  ServerToClient,  // responses
};

// How the reassembler decided which side is the client.
enum class RoleSource : std::uint8_t {
  Syn,       // the SYN sender is the client
  Payload,   // capture started mid-stream: the side whose first bytes look like a request
  Port,      // no better clue: the side on the lower (service) port is the server
};

struct ConnectionInfo {
  std::uint64_t connection_id = 0;  // unique within one capture, assigned in order of first packet
  IpEndpoint client;
  IpEndpoint server;
  RoleSource role_source = RoleSource::Syn;
  bool syn_seen = false;            // false: the capture started mid-stream
  std::int64_t first_ns = 0;        // time of the first packet
};

enum class CloseReason : std::uint8_t {
  Fin,          // both sides (or the last open side) sent FIN
  Reset,        // RST
  IdleExpired,  // no packet for the idle timeout (packet time)
  Evicted,      // the flow table limit forced it out
  EndOfInput,   // the capture ended with the connection open
};

// Why bytes are missing from a stream.
enum class GapCause : std::uint8_t {
  Lost,     // packets never captured (dropped, or the capture started late): a hole given up
  Snaplen,  // captured, but cut by the capture's snaplen: the tail of a packet's payload
};

// Receives one connection's events in order. Implemented by the HTTP assembler; the reassembler
// calls it. `bytes` is only valid during the call.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void on_data(Direction dir, std::span<const std::uint8_t> bytes, std::int64_t ts_ns) = 0;
  // `missing` bytes in `dir` were never captured, for `cause`; data after the gap follows in
  // on_data.
  virtual void on_gap(Direction dir, std::uint64_t missing, std::int64_t ts_ns, GapCause cause) = 0;
  // A FIN in one direction: no more data will come that way (the other may go on).
  virtual void on_half_close(Direction dir, std::int64_t ts_ns) = 0;
  // The connection is over; no call follows.
  virtual void on_close(CloseReason reason, std::int64_t ts_ns) = 0;
};

// Creates the sink for each new connection; the reassembler owns what it returns until on_close.
class StreamSinkFactory {
 public:
  virtual ~StreamSinkFactory() = default;
  virtual StreamSink* open(const ConnectionInfo& info) = 0;
  // Called after on_close: the sink may be destroyed or reused.
  virtual void release(StreamSink* sink) = 0;
};

}  // namespace reprise::capture
