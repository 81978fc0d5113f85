#pragma once
// HTTP exchange assembly: the StreamSink side of the seam in stream_events.hpp. One
// ConnectionAssembler per TCP connection turns its ordered stream events into HttpExchange values;
// ExchangeAssembler is the StreamSinkFactory that owns them and counts into one HttpStats.
//
// Output: every exchange is handed to the ExchangeOutput callback synchronously, from inside the
// on_data/on_gap/on_half_close/on_close call that finished it, in connection order (index 0, 1, …
// per connection; exchanges of different connections interleave in the order they finish). The
// callback must not call back into the assembler.
//
// Pairing. Requests and responses are paired first in, first out (keep-alive and pipelining). A
// response is matched when its first byte is seen, because its parse depends on the request
// (HEAD: no body; CONNECT: a 2xx opens a tunnel); if its request's header is not parsed yet, the
// response bytes wait, bounded by max_header_bytes (then wait_limit_hits, and it is an orphan).
// An interim 1xx response is counted and the exchange waits for the final response. A response
// never answers a request whose first byte came after its own first byte: it is then an orphan
// (has_request false; an unsolicited 408 before a close is one). Bytes that never showed a
// status line (garbage, a gap right at a response start) answer nothing: the request waits on.
//
// After a loss (see HttpMessageParser: a gap that broke framing, a parse error, a mid-stream
// start) FIFO alone would shift every later pair, so the timestamps decide:
//  - responses lost (loss on the response side): the first response found after it answers the
//    latest unanswered request that began no later than it; older unanswered requests are emitted
//    with NoResponse|Gap. Exact for non-pipelined keep-alive; pipelined traffic may be mis-paired
//    and is flagged Gap.
//  - requests lost (loss on the request side): requests seen before the loss are answered first,
//    in order; then a response pairs with the first request found after the loss only if that
//    request began no later than the response; otherwise the response is an orphan (emitted with
//    has_request false), its request having been lost.
// The exchange whose pairing such a rule decided carries Gap (or ParseError, after a parse error).
//
// Endings. A gap or close inside a message: the request gets RequestIncomplete, the response
// ResponseIncomplete, both Gap when a gap did it. A FIN delimits a close-delimited response body;
// a reset, idle expiry, eviction or end of input leaves it ResponseIncomplete. Requests still
// unanswered when no response can come any more get NoResponse. A 101, or a 2xx to CONNECT, ends
// HTTP on the connection: the exchange gets Upgrade and later bytes are counted only; requests
// that ask for an upgrade hold the following request bytes until the response decides.
//
// Limits: Options below; every hit is counted in HttpStats.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "reprise/capture/http_exchange.hpp"
#include "reprise/capture/http_message_parser.hpp"
#include "reprise/capture/http_stats.hpp"
#include "reprise/capture/stream_events.hpp"
#include "reprise/capture/vector_queue.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

struct ExchangeAssemblerOptions {
  HttpMessageParser::Options http;  // header bytes (64 KiB), stored body bytes (1 MiB)
  // Requests awaiting a response per connection; one more emits the oldest with NoResponse
  // (pending_limit_hits), and the next response in order is then emitted as an orphan. (Exchanges
  // already complete may still wait behind an earlier one whose response is streaming: emission
  // keeps connection order.)
  std::size_t max_pending_requests = 32;
};

using ExchangeOutput = std::function<void(HttpExchange&&)>;

class ConnectionAssembler final : public StreamSink {
 public:
  // `options`, `stats` and `output` must outlive the assembler.
  ConnectionAssembler(const ConnectionInfo& info, const ExchangeAssemblerOptions& options,
                      HttpStats& stats, const ExchangeOutput& output);
  ~ConnectionAssembler() override;

  void on_data(Direction dir, std::span<const std::uint8_t> bytes, std::int64_t ts_ns) override;
  void on_gap(Direction dir, std::uint64_t missing, std::int64_t ts_ns, GapCause cause) override;
  void on_half_close(Direction dir, std::int64_t ts_ns) override;
  // Emits everything still held; calls after it are ignored.
  void on_close(CloseReason reason, std::int64_t ts_ns) override;

  bool closed() const { return closed_; }
  // See ExchangeAssembler::oldest_open_ns().
  std::int64_t oldest_open_ns() const;

 private:
  struct Slot;

  HttpMessageParser& parser(Direction dir);
  void pump();
  bool pump_requests();
  bool pump_responses();
  Slot* add_request_slot(const HttpMessageParser::Message& m);
  void finish_request(HttpMessageParser::Message&& m);
  bool start_response();
  Slot* choose_request(const HttpMessageParser::StartInfo& start, bool& wait);
  Slot* add_orphan(std::int64_t first_ns, ExchangeFlags cause);
  void finish_response(HttpMessageParser::Message&& m);
  void answer_none(Slot& s, ExchangeFlags flags);
  void enforce_pending_limit();
  void settle();
  void emit_ready();
  void emit(Slot& s);
  std::unique_ptr<Slot> new_slot();

  ConnectionInfo info_;
  const ExchangeAssemblerOptions& options_;
  HttpStats& stats_;
  const ExchangeOutput& output_;
  HttpMessageParser requests_;
  HttpMessageParser responses_;

  VectorQueue<std::unique_ptr<Slot>> slots_;  // exchanges not yet emitted, in request order
  // The last emitted slot, made new again: the next exchange of this connection is built in it
  // (no allocation, and memory still in the cache). One per connection, about 400 bytes.
  std::unique_ptr<Slot> spare_slot_;
  Slot* request_slot_ = nullptr;             // the request being parsed (after its header)
  Slot* response_slot_ = nullptr;            // the response being parsed, or awaited after a 1xx
  Slot* upgrade_slot_ = nullptr;             // request bytes wait for the response to this request
  bool client_loss_ = false;  // requests were lost and no later request was paired yet
  ExchangeFlags client_loss_cause_ = ExchangeFlags::None;
  std::uint64_t owed_responses_ = 0;  // responses to requests emitted early by the pending limit
  std::uint32_t next_index_ = 0;
  bool closing_ = false;
  bool closed_ = false;
};

class ExchangeAssembler final : public StreamSinkFactory {
 public:
  using Options = ExchangeAssemblerOptions;

  // errc::bad_option for a zero max_header_bytes or max_pending_requests.
  static Status validate(const Options& options);

  // Throws std::invalid_argument when validate() fails or `output` is empty (start-up config).
  ExchangeAssembler(const Options& options, ExchangeOutput output);
  ~ExchangeAssembler() override;

  StreamSink* open(const ConnectionInfo& info) override;
  // Destroys the sink; one released before on_close is closed first (EndOfInput), so nothing it
  // held is lost.
  void release(StreamSink* sink) override;

  const HttpStats& stats() const { return stats_; }
  std::size_t open_connections() const { return connections_.size(); }

  // A watermark for reordering by request start: no exchange emitted from now on has a
  // request_first_ns earlier than this, as far as the bytes delivered so far tell (an orphan
  // counts with its response's first byte). INT64_MAX when nothing is held. Bytes the reassembler
  // still holds, and connections not opened yet, are not covered: the caller takes the minimum
  // with its own bound. O(open connections + held exchanges).
  std::int64_t oldest_open_ns() const;

 private:
  Options options_;
  ExchangeOutput output_;
  HttpStats stats_;
  std::unordered_map<StreamSink*, std::unique_ptr<ConnectionAssembler>> connections_;
};

}  // namespace reprise::capture
