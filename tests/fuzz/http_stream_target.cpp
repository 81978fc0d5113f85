// Fuzz target: one TCP connection's events, as the reassembler would deliver them, into the
// HTTP exchange assembler. The events keep the StreamSink contract (no data after a direction's
// FIN, nothing after on_close, time never going back); everything else is up to the input.
//
// Input: a setup byte (limits, mid-stream start), then operations; each operation byte is
//   bits 0-2: 0-2 data (a length byte, then that many bytes + 1), 3 small gap, 4 large gap
//             (16-bit length x 16),
//             5 half-close, 6 close (a reason byte), 7 long data (a 16-bit length);
//   bit 3: direction (0 client to server, 1 server to client); bits 4-7: time step in ns (for
//   a gap, bit 4 also says snaplen rather than lost packets).

#include "exchange_checker.hpp"
#include "fuzz_input.hpp"
#include "targets.hpp"
#include "reprise/capture/exchange_assembler.hpp"

namespace reprise::fuzz {

int http_stream(const std::uint8_t* data, std::size_t size) {
  using namespace capture;
  FuzzInput in(data, size);
  const std::uint8_t setup = in.byte();
  // Small limits too, so that the limit paths run as often as the common ones.
  static constexpr std::size_t kHeaderLimits[] = {64 * 1024, 300, 40, 1};
  static constexpr std::uint64_t kBodyLimits[] = {1 << 20, 100, 1, 0};
  ExchangeAssembler::Options options;
  options.http.max_header_bytes = kHeaderLimits[setup & 3];
  options.http.max_body = kBodyLimits[(setup >> 2) & 3];
  options.max_pending_requests = 1 + 4u * ((setup >> 4) & 3);

  ExchangeChecker check(options.http.max_body);
  ExchangeAssembler assembler(options, [&](HttpExchange&& x) { check(x); });
  ConnectionInfo info;
  info.connection_id = 1;
  info.syn_seen = (setup & 0x40) == 0;
  info.role_source = info.syn_seen ? RoleSource::Syn : RoleSource::Payload;
  info.first_ns = 1'000'000;
  StreamSink* sink = assembler.open(info);

  std::int64_t ts = info.first_ns;
  bool half_closed[2] = {false, false};
  CloseReason reason = CloseReason::EndOfInput;
  bool closing = false;
  while (!in.empty() && !closing) {
    const std::uint8_t op = in.byte();
    ts += op >> 4;
    const int side = (op >> 3) & 1;
    const Direction dir = side == 0 ? Direction::ClientToServer : Direction::ServerToClient;
    std::span<const std::uint8_t> bytes;
    std::uint64_t missing = 0;
    switch (op & 7) {
      case 0: case 1: case 2: bytes = in.take(std::size_t{in.byte()} + 1); break;
      case 7: bytes = in.take(in.u16()); break;
      case 3: missing = std::uint64_t{in.byte()} + 1; break;
      case 4: missing = (std::uint64_t{in.u16()} << 4) + 1; break;  // up to 1 MiB: a gap is
        // skipped through Beast 16 KiB at a time, so a larger one only slows the fuzzer
      case 5:
        if (!half_closed[side]) sink->on_half_close(dir, ts);
        half_closed[side] = true;
        break;
      case 6:
        reason = static_cast<CloseReason>(in.byte() % 5);
        closing = true;
        break;
    }
    if (half_closed[side]) continue;
    if (!bytes.empty()) sink->on_data(dir, bytes, ts);
    // The cause: bit 4 of the operation (the time step's low bit).
    if (missing > 0) sink->on_gap(dir, missing, ts, (op & 0x10) != 0 ? GapCause::Snaplen : GapCause::Lost);
  }
  sink->on_close(reason, ts);
  assembler.release(sink);
  return 0;
}

}  // namespace reprise::fuzz
