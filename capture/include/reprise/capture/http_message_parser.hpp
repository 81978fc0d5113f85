#pragma once
// HttpMessageParser: one direction of one connection (all requests, or all responses), bytes in,
// HTTP/1.x messages out. Sans-I/O and pull-style, like Beast's basic_parser::put() which it wraps:
//
//   push(bytes, ts) / gap(missing, ts) / eof(clean)       feed the stream, in stream order;
//   next()                                                 returns the next event;
//   begin(...)                                             lets a message start once its setup is
//                                                          known (a response needs to know whether
//                                                          it answers HEAD or CONNECT);
//   current() / take()                                     read the message.
//
// Events, in the order they occur for one message:
//   MessageStart   the first byte of a message is buffered; start() says when it arrived and
//                  whether messages may have been lost just before it. Nothing else happens in
//                  this direction until begin() is called: the caller may wait (bytes keep being
//                  buffered; buffered() says how many, the caller bounds it).
//   HeaderDone     start line and fields are parsed (current() holds them). Beast is given a
//                  header only once it is whole, so what a message holds never depends on how
//                  its bytes were split into pushes.
//   MessageDone    the message is complete; take() it.
//   MessageBroken  the message ended early: a parse error, the header limit, a gap that broke its
//                  framing, or the end of the stream; take() the partial message, its flags say
//                  why. A message broken inside its header keeps its start line if that line is
//                  all there (no fields); one broken before has has_start_line false.
//   NeedMore       nothing more can happen until more input (or begin()).
//
// States between messages: after a loss (a gap outside a body of known extent, a parse error, or
// a connection seen from its middle) the parser scans forward, byte by byte, to the next plausible
// message start — request: `METHOD SP target SP "HTTP/1.0|1" CRLF` with an upper-case method,
// response: `"HTTP/1.0|1" SP DDD SP` (after a parse error, from the next line on) — counting the
// bytes it passes over (resync_bytes_skipped); bytes it did not see never reach the output. A
// gap inside a Content-Length body, inside chunk data, or inside a close-delimited body keeps the
// framing: the message goes on, flagged `gap`, its stored body cut at the gap (body_size still
// counts every byte). Empty lines between messages are skipped as RFC 9112 allows.
//
// After a response that switches protocols (101, or 2xx to CONNECT), and after stop(), the
// direction is no longer HTTP: further bytes are only counted (bytes_after_upgrade).
//
// Limits (Options): max_header_bytes bounds a message's header (start line to blank line, however
// it arrives) and the bytes held unparsed (a chunk-size line, a trailer section, a partial
// candidate while scanning); past it the message is a parse error and header_limit_hits is
// counted. max_body bounds the body bytes stored per message. Timestamps: `first_ns`/`last_ns` are
// those of the push() that delivered the message's first/last byte (a gap's, if it ended inside
// one).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "reprise/capture/http_exchange.hpp"
#include "reprise/capture/http_stats.hpp"
#include "reprise/capture/vector_queue.hpp"

namespace reprise::capture {

class HttpMessageParser {
 public:
  struct Options {
    // Bytes of one message's header (start line to blank line), and of a chunk-size line or
    // trailer section held unparsed; also bounds what a direction holds while it waits
    // (ConnectionAssembler).
    std::size_t max_header_bytes = 64 * 1024;
    // Body bytes stored per message after transfer-decoding; more are counted, not stored.
    std::uint64_t max_body = 1024 * 1024;
  };

  enum class Kind : std::uint8_t { Request, Response };

  enum class Event : std::uint8_t {
    NeedMore,
    MessageStart,
    HeaderDone,
    MessageDone,
    MessageBroken
  };

  // Known about a message before its first byte is parsed (responses only).
  struct Setup {
    bool skip_body = false;      // it answers HEAD: no body whatever the header says
    bool tunnel_on_2xx = false;  // it answers CONNECT: a 2xx ends HTTP on the connection
  };

  struct StartInfo {
    std::int64_t first_ns = 0;  // timestamp of the push() that delivered the first byte
    bool after_loss = false;    // messages may have been lost between the previous one and this
    ExchangeFlags loss_cause = ExchangeFlags::None;  // Gap or ParseError when after_loss
  };

  struct Message {
    HttpRequest request;    // filled by a Kind::Request parser
    HttpResponse response;  // filled by a Kind::Response parser
    std::int64_t first_ns = 0;
    std::int64_t last_ns = 0;  // timestamp of its last byte seen (the gap's, if it ended in one)
    bool has_start_line = false;
    bool complete = false;        // false: MessageBroken
    bool body_truncated = false;  // body not stored in full (max_body, or a gap inside it)
    bool gap = false;             // a gap touched it
    bool snaplen_cut = false;     // ... and that gap was bytes the capture's snaplen cut
    bool parse_error = false;     // rejected by the parser or over the header limit
    // Request: it asks to leave HTTP (CONNECT, or `Connection: upgrade` with `Upgrade`).
    // Response: it left HTTP (101, or 2xx with Setup::tunnel_on_2xx); the parser has stopped.
    bool upgrade = false;
  };

  HttpMessageParser(Kind kind, const Options& options, HttpStats& stats);
  ~HttpMessageParser();
  HttpMessageParser(const HttpMessageParser&) = delete;
  HttpMessageParser& operator=(const HttpMessageParser&) = delete;

  // The stream is seen from its middle: the first message must start with a plausible start
  // line, or the parser scans for one (midstream_starts). Call before the first push().
  void expect_midstream();

  // Appends stream bytes (copied). Ignored after eof().
  void push(std::span<const std::uint8_t> bytes, std::int64_t ts_ns);
  // `missing` bytes were never captured at the current end of the stream, for `cause`.
  void gap(std::uint64_t missing, std::int64_t ts_ns, GapCause cause);
  // No byte follows. `clean`: the stream ended with a FIN, which delimits a body without
  // Content-Length; otherwise (reset, idle expiry, end of capture) such a body is incomplete.
  void eof(bool clean);
  // The stream left HTTP (the other direction saw the protocol switch): count, don't parse.
  void stop();

  Event next();
  // After MessageStart: parse the message with this setup.
  void begin(const Setup& setup);

  const StartInfo& start() const { return start_; }
  const Message& current() const { return msg_; }
  // After MessageDone or MessageBroken: the message, to be moved from (the parser resets it when
  // the next message starts). Valid until the next call to next().
  Message&& take();

  // Bytes buffered and not yet consumed by the parser.
  std::size_t buffered() const { return buf_.size() - rd_; }
  // Between a loss and the next message start.
  bool lost() const { return lost_; }
  ExchangeFlags loss_cause() const { return loss_cause_; }
  // Timestamp of the earliest byte held for a message not yet returned (a message in progress,
  // or bytes waiting or being scanned); nullopt when nothing is held.
  std::optional<std::int64_t> held_since_ns() const;
  // eof() reached or the stream left HTTP: no further message will come.
  bool finished() const { return state_ == State::Closed || state_ == State::Stopped; }

  class Engine;  // the Beast parser behind it (defined in the .cpp)

 private:
  enum class State : std::uint8_t { Idle, AwaitBegin, InMessage, Scanning, Stopped, Closed };
  // Returned by the state handlers: the state changed, next() goes round again.
  static constexpr Event kContinue = static_cast<Event>(0xff);
  struct TsMark {
    std::uint64_t end;  // stream offset one past the last byte of a push()
    std::int64_t ts;
  };
  struct GapMark {
    std::uint64_t at;  // stream offset (delivered bytes) where the gap sits
    std::uint64_t missing;
    std::int64_t ts;
    bool snaplen;  // some of it was cut by the snaplen (GapCause::Snaplen)
  };

  std::uint64_t offset() const { return base_ + rd_; }  // stream offset of the next byte
  std::size_t region_end() const;  // index in buf_ where parsing must stop (a gap or the end)
  bool at_boundary() const;        // region_end() is a gap, or the end of a stream at eof
  std::int64_t ts_at(std::uint64_t stream_offset) const;
  void consume(std::size_t n);
  void skip(std::size_t n);                  // consume as resync bytes
  std::size_t header_size(std::size_t end);  // bytes up to the blank line, 0 if not there yet
  void recover_start_line(std::size_t end);
  void start_message();
  void enter_scan(ExchangeFlags cause, bool origin_is_candidate);
  void break_message(ExchangeFlags cause);
  void finish_message();
  Event idle();
  Event scan();
  Event in_message();
  Event apply_boundary();
  void apply_gap();
  void apply_eof();
  void drop_engine();

  Kind kind_;
  Options options_;
  HttpStats& stats_;

  std::vector<std::uint8_t> buf_;
  std::size_t rd_ = 0;      // first unconsumed byte in buf_
  std::uint64_t base_ = 0;  // stream offset of buf_[0]
  VectorQueue<TsMark> ts_marks_;
  VectorQueue<GapMark> gaps_;
  bool eof_ = false;
  bool eof_clean_ = false;

  State state_ = State::Idle;
  // The message's Beast parser. Beast's parser cannot be reset, so one is built per message, in
  // storage allocated at the first message and reused (no allocation per message).
  Engine* engine_ = nullptr;
  std::unique_ptr<unsigned char[]> engine_storage_;
  Message msg_;
  std::size_t fields_hint_ = 16;  // header fields reserved for the next message
  StartInfo start_;
  Event pending_ = Event::NeedMore;  // an event decided outside next() (by a gap), not yet returned
  std::size_t eom_scanned_ = 0;      // header bytes after rd_ searched for the blank line in vain
  int deferred_ = -1;  // Engine::Status of the last feed, held while HeaderDone is returned first
  bool chunk_wait_ = false;  // Beast wanted more inside a chunked body (see in_message())
  bool header_reported_ = false;
  bool need_plausible_ = false;
  bool lost_ = false;
  ExchangeFlags loss_cause_ = ExchangeFlags::None;
  bool origin_candidate_ = true;  // while scanning, the byte at rd_ was not rejected yet
  bool skip_line_ = false;        // while scanning, skip to the next line first (parse error)
};

}  // namespace reprise::capture
