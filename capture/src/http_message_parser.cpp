#include "reprise/capture/http_message_parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

// How bytes flow: push() appends to buf_; next() hands the unconsumed bytes [rd_, region_end()) to
// Beast's put(), which consumes what it could parse and leaves the rest (a partial header, a
// partial chunk-size line) for the next call, when more bytes are appended behind it. Beast needs
// that tail contiguous, hence one flat buffer; it is compacted on push(). Gaps and the end of the
// stream are marks at stream offsets, applied when parsing reaches them, so a direction that is
// waiting (no begin() yet) keeps its bytes and its gaps in order.

namespace reprise::capture {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

// The Beast parser, behind an interface so the public header needs no Beast include.
class HttpMessageParser::Engine {
 public:
  enum class Status : std::uint8_t { Ok, NeedMore, Tunnel, Error };
  struct Result {
    std::size_t used = 0;
    Status status = Status::Ok;
  };

  virtual ~Engine() = default;
  virtual Result feed(const std::uint8_t* data, std::size_t size) = 0;
  // The stream ended; true when that completed the message (a close-delimited body).
  virtual bool feed_eof() = 0;
  // Advances the parser over `n` body bytes that were never captured; they are counted in
  // body_size and never stored. Precondition: 0 < n <= framed_remaining().
  virtual void feed_hole(std::uint64_t n) = 0;
  // Counts `n` missing bytes of a close-delimited body.
  virtual void note_hole(std::uint64_t n) = 0;
  virtual bool header_done() const = 0;
  virtual bool done() const = 0;
  // Body bytes a gap may swallow without losing the framing: the rest of a Content-Length body or
  // of the current chunk's data. 0 elsewhere (header, chunk-size line, trailers).
  virtual std::uint64_t framed_remaining() const = 0;
  // In a body that only the end of the stream delimits.
  virtual bool delimited_by_eof() const = 0;
};

namespace {

template <bool isRequest>
class BeastEngine final : public http::basic_parser<isRequest>, public HttpMessageParser::Engine {
 public:
  BeastEngine(HttpMessageParser::Message& msg, const HttpMessageParser::Options& options,
              const HttpMessageParser::Setup& setup)
      : msg_(msg), max_body_(options.max_body), tunnel_on_2xx_(setup.tunnel_on_2xx) {
    this->eager(true);
    // Body size is not a reason to reject traffic we only observe: max_body cuts what is stored.
    // Not boost::none: Beast 1.74 compares Content-Length against the optional, and any number
    // is greater than none, so every request with a body would fail with body_limit.
    this->body_limit(std::numeric_limits<std::uint64_t>::max());
    // The parser hands Beast whole headers only, after checking max_header_bytes itself.
    this->header_limit(std::numeric_limits<std::uint32_t>::max());
    if (setup.skip_body) this->skip(true);
  }

  Result feed(const std::uint8_t* data, std::size_t size) override {
    error_code ec;
    const std::size_t used = this->put(boost::asio::const_buffer(data, size), ec);
    if (tunnel_ && this->is_header_done()) return {used, Status::Tunnel};
    if (!ec) return {used, Status::Ok};
    if (ec == http::error::need_more) return {used, Status::NeedMore};
    return {used, Status::Error};
  }

  bool feed_eof() override {
    if (!this->got_some()) return false;
    error_code ec;
    this->put_eof(ec);
    return !ec && this->is_done();
  }

  void feed_hole(std::uint64_t n) override {
    // Zeros stand in for the missing bytes so Beast's counters advance; store() drops them.
    static const std::array<char, 16 * 1024> kZeros{};
    filling_ = true;
    while (n > 0 && !this->is_done()) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, kZeros.size()));
      error_code ec;
      const std::size_t used = this->put(boost::asio::const_buffer(kZeros.data(), chunk), ec);
      n -= used;
      if (ec || used == 0) break;
    }
    filling_ = false;
  }

  void note_hole(std::uint64_t n) override {
    body_size() += n;
    hole_ = true;
    msg_.body_truncated = true;
  }

  bool header_done() const override { return this->is_header_done(); }
  bool done() const override { return this->is_done(); }

  std::uint64_t framed_remaining() const override {
    if (!this->is_header_done() || this->is_done()) return 0;
    if (this->chunked()) return chunk_remaining_;
    return this->content_length_remaining().value_or(0);
  }

  bool delimited_by_eof() const override {
    return this->is_header_done() && !this->is_done() && this->need_eof();
  }

 private:
  std::vector<std::uint8_t>& body() {
    if constexpr (isRequest)
      return msg_.request.body;
    else
      return msg_.response.body;
  }
  std::uint64_t& body_size() {
    if constexpr (isRequest)
      return msg_.request.body_size;
    else
      return msg_.response.body_size;
  }
  HttpHeaders& fields() {
    if constexpr (isRequest)
      return in_trailers_ ? msg_.request.trailers : msg_.request.headers;
    else
      return in_trailers_ ? msg_.response.trailers : msg_.response.headers;
  }

  // The stored body is always a prefix of the real one: after a hole nothing more is stored.
  void store(const char* data, std::size_t n) {
    body_size() += n;
    if (filling_ || hole_) {
      hole_ = true;
      msg_.body_truncated = true;
      return;
    }
    auto& b = body();
    const std::uint64_t room = max_body_ > b.size() ? max_body_ - b.size() : 0;
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(room, n));
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    b.insert(b.end(), bytes, bytes + take);
    if (take < n) msg_.body_truncated = true;
  }

  void on_request_impl(http::verb, string_view method, string_view target, int version,
                       error_code&) override {
    msg_.request.method.assign(method.data(), method.size());
    msg_.request.target.assign(target.data(), target.size());
    msg_.request.version = static_cast<std::uint8_t>(version);
    msg_.has_start_line = true;
  }

  void on_response_impl(int code, string_view reason, int version, error_code&) override {
    msg_.response.status = static_cast<std::uint16_t>(code);
    msg_.response.reason.assign(reason.data(), reason.size());
    msg_.response.version = static_cast<std::uint8_t>(version);
    msg_.has_start_line = true;
  }

  void on_field_impl(http::field name, string_view name_string, string_view value,
                     error_code&) override {
    if (name == http::field::upgrade) upgrade_field_ = true;
    fields().emplace_back(std::piecewise_construct,
                          std::forward_as_tuple(name_string.data(), name_string.size()),
                          std::forward_as_tuple(value.data(), value.size()));
  }

  void on_header_impl(error_code&) override {
    in_trailers_ = true;  // fields after the header are chunked trailers
    if constexpr (isRequest) {
      // Beast's upgrade() is the `Connection: upgrade` token; an upgrade also names a protocol.
      msg_.upgrade = std::string_view(msg_.request.method) == "CONNECT" || (this->upgrade() && upgrade_field_);
    } else {
      const unsigned status = msg_.response.status;
      if (status == 101) msg_.upgrade = true;
      if (tunnel_on_2xx_ && status / 100 == 2) {
        msg_.upgrade = true;
        tunnel_ = true;
      }
    }
  }

  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code& ec) override {
    // A 2xx to CONNECT has no body: the bytes after its header belong to the tunnel. Any error
    // stops put() right after the header; feed() reports Tunnel because tunnel_ is set.
    if (tunnel_) ec = http::error::unexpected_body;
  }

  std::size_t on_body_impl(string_view body, error_code&) override {
    store(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t size, string_view, error_code&) override {
    chunk_remaining_ = size;
  }

  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code&) override {
    store(body.data(), body.size());
    chunk_remaining_ = remain - body.size();
    return body.size();
  }

  void on_finish_impl(error_code&) override {}

  HttpMessageParser::Message& msg_;
  std::uint64_t max_body_;
  bool tunnel_on_2xx_;
  bool tunnel_ = false;
  bool in_trailers_ = false;
  bool upgrade_field_ = false;
  bool filling_ = false;
  bool hole_ = false;
  std::uint64_t chunk_remaining_ = 0;
};

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kKeepCapacity = 64 * 1024;  // buffer capacity kept across deliveries

enum class Plausible { Yes, No, Incomplete };

bool is_method_char(std::uint8_t c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }
bool is_target_char(std::uint8_t c) { return c > 0x20 && c != 0x7f; }
bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

// Compares [p, end) with `lit`: Yes when it starts with all of lit, Incomplete when it is a proper
// prefix of lit.
Plausible match(const std::uint8_t* p, const std::uint8_t* end, std::string_view lit) {
  for (char c : lit) {
    if (p == end) return Plausible::Incomplete;
    if (*p++ != static_cast<std::uint8_t>(c)) return Plausible::No;
  }
  return Plausible::Yes;
}

// `METHOD SP target SP "HTTP/1." ("0" / "1") CRLF`, methods in upper case as every registered one
// is; the target may take up to `max_len` bytes. Beast accepts every start line this accepts.
Plausible plausible_request(const std::uint8_t* p, const std::uint8_t* end, std::size_t max_len) {
  constexpr std::size_t kMaxMethod = 32;
  const std::uint8_t* q = p;
  while (q < end && is_method_char(*q)) {
    if (static_cast<std::size_t>(++q - p) > kMaxMethod) return Plausible::No;
  }
  if (q == end) return Plausible::Incomplete;
  if (q == p || *q != ' ') return Plausible::No;
  const std::uint8_t* target = ++q;
  while (q < end && is_target_char(*q)) {
    if (static_cast<std::size_t>(++q - p) > max_len) return Plausible::No;
  }
  if (q == end) return Plausible::Incomplete;
  if (q == target) return Plausible::No;
  if (const auto m = match(q, end, " HTTP/1."); m != Plausible::Yes) return m;
  q += 8;
  if (q == end) return Plausible::Incomplete;
  if (*q != '0' && *q != '1') return Plausible::No;
  return match(q + 1, end, "\r\n");
}

// `"HTTP/1." ("0" / "1") SP 3DIGIT SP`
Plausible plausible_response(const std::uint8_t* p, const std::uint8_t* end) {
  if (const auto m = match(p, end, "HTTP/1."); m != Plausible::Yes) return m;
  p += 7;
  if (p == end) return Plausible::Incomplete;
  if (*p != '0' && *p != '1') return Plausible::No;
  ++p;
  constexpr std::array<bool, 5> kDigitAt{false, true, true, true, false};  // else SP
  for (bool digit : kDigitAt) {
    if (p == end) return Plausible::Incomplete;
    if (digit ? !is_digit(*p) : *p != ' ') return Plausible::No;
    ++p;
  }
  return Plausible::Yes;
}

}  // namespace

HttpMessageParser::HttpMessageParser(Kind kind, const Options& options, HttpStats& stats)
    : kind_(kind), options_(options), stats_(stats) {}

HttpMessageParser::~HttpMessageParser() { drop_engine(); }

void HttpMessageParser::drop_engine() {
  if (engine_ == nullptr) return;
  engine_->~Engine();  // virtual: destroys the whole BeastEngine; the storage stays
  engine_ = nullptr;
}

void HttpMessageParser::expect_midstream() { need_plausible_ = true; }

void HttpMessageParser::push(std::span<const std::uint8_t> bytes, std::int64_t ts_ns) {
  if (eof_ || bytes.empty()) return;
  if (state_ == State::Stopped) {
    stats_.bytes_after_upgrade += bytes.size();
    return;
  }
  // Compact: drop consumed bytes once they are the larger part, so erasing stays amortized O(1).
  // An emptied buffer gives back what one large delivery grew it to: thousands of idle
  // connections must not each keep a body-sized buffer.
  if (rd_ == buf_.size()) {
    base_ += buf_.size();
    if (buf_.capacity() > kKeepCapacity) {
      std::vector<std::uint8_t>().swap(buf_);
    } else {
      buf_.clear();
    }
    rd_ = 0;
  } else if (rd_ >= 4096 && rd_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(rd_));
    base_ += rd_;
    rd_ = 0;
  }
  // Timestamps are asked for at offsets >= offset() only.
  while (!ts_marks_.empty() && ts_marks_.front().end <= offset()) ts_marks_.pop_front();
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  if (!ts_marks_.empty() && ts_marks_.back().ts == ts_ns) {
    ts_marks_.back().end = base_ + buf_.size();  // same packet time: one mark
  } else {
    ts_marks_.push_back({base_ + buf_.size(), ts_ns});
  }
}

void HttpMessageParser::gap(std::uint64_t missing, std::int64_t ts_ns, GapCause cause) {
  if (eof_ || missing == 0 || finished()) return;
  const std::uint64_t at = base_ + buf_.size();
  const bool snaplen = cause == GapCause::Snaplen;
  if (!gaps_.empty() && gaps_.back().at == at) {
    gaps_.back().missing += missing;
    gaps_.back().ts = ts_ns;
    gaps_.back().snaplen |= snaplen;
    return;
  }
  gaps_.push_back({at, missing, ts_ns, snaplen});
}

void HttpMessageParser::eof(bool clean) {
  if (eof_) return;
  eof_ = true;
  eof_clean_ = clean;
  if (state_ == State::Stopped) state_ = State::Closed;
}

void HttpMessageParser::stop() {
  if (finished()) return;
  if (state_ == State::InMessage) {
    msg_.complete = false;
    pending_ = Event::MessageBroken;
    drop_engine();
  }
  stats_.bytes_after_upgrade += buffered();
  rd_ = buf_.size();
  gaps_.clear();
  state_ = eof_ ? State::Closed : State::Stopped;
}

void HttpMessageParser::begin(const Setup& setup) {
  if (state_ != State::AwaitBegin) return;
  static constexpr std::size_t kEngineBytes =
      std::max(sizeof(BeastEngine<true>), sizeof(BeastEngine<false>));
  static_assert(std::max(alignof(BeastEngine<true>), alignof(BeastEngine<false>)) <=
                __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  drop_engine();
  if (!engine_storage_) engine_storage_ = std::make_unique<unsigned char[]>(kEngineBytes);
  if (kind_ == Kind::Request) {
    engine_ = new (engine_storage_.get()) BeastEngine<true>(msg_, options_, setup);
  } else {
    engine_ = new (engine_storage_.get()) BeastEngine<false>(msg_, options_, setup);
  }
  deferred_ = -1;
  eom_scanned_ = 0;
  chunk_wait_ = false;
  state_ = State::InMessage;
}

HttpMessageParser::Message&& HttpMessageParser::take() {
  const auto fields = (kind_ == Kind::Request ? msg_.request.headers : msg_.response.headers).size();
  fields_hint_ = std::clamp<std::size_t>(fields, 1, 64);  // 64: a freak message sets no trend
  // No reset here: start_message() resets before msg_ is read again.
  return std::move(msg_);
}

std::optional<std::int64_t> HttpMessageParser::held_since_ns() const {
  if (state_ == State::AwaitBegin || state_ == State::InMessage) return msg_.first_ns;
  if (pending_ != Event::NeedMore) return msg_.first_ns;  // a message decided, not yet taken
  if (buffered() > 0 && state_ != State::Stopped) return ts_at(offset());
  return std::nullopt;
}

std::size_t HttpMessageParser::region_end() const {
  if (!gaps_.empty()) return static_cast<std::size_t>(gaps_.front().at - base_);
  return buf_.size();
}

bool HttpMessageParser::at_boundary() const { return !gaps_.empty() || eof_; }

std::int64_t HttpMessageParser::ts_at(std::uint64_t stream_offset) const {
  for (const auto& m : ts_marks_) {
    if (stream_offset < m.end) return m.ts;
  }
  return ts_marks_.empty() ? 0 : ts_marks_.back().ts;
}

void HttpMessageParser::consume(std::size_t n) {
  if (n == 0) return;
  rd_ += n;
  msg_.last_ns = ts_at(offset() - 1);
}

void HttpMessageParser::skip(std::size_t n) {
  if (n == 0) return;
  stats_.resync_bytes_skipped += n;
  rd_ += n;
  origin_candidate_ = true;  // a byte not looked at yet
}

// Resets msg_ in place, and only the half this direction fills (the other stays empty): this runs
// once per message, and assigning a whole new Message cost more than the fields parsed into it.
void HttpMessageParser::start_message() {
  HttpHeaders* headers;
  if (kind_ == Kind::Request) {
    HttpRequest& r = msg_.request;
    r.method.clear();
    r.target.clear();
    r.version = 11;
    r.headers.clear();
    r.trailers.clear();
    std::vector<std::uint8_t>().swap(r.body);  // a large body's capacity is not kept
    r.body_size = 0;
    headers = &r.headers;
  } else {
    HttpResponse& r = msg_.response;
    r.status = 0;
    r.reason.clear();
    r.version = 11;
    r.headers.clear();
    r.trailers.clear();
    std::vector<std::uint8_t>().swap(r.body);
    r.body_size = 0;
    headers = &r.headers;
  }
  msg_.has_start_line = false;
  msg_.complete = false;
  msg_.body_truncated = false;
  msg_.gap = false;
  msg_.snaplen_cut = false;
  msg_.parse_error = false;
  msg_.upgrade = false;
  // One allocation instead of several regrowths: messages on one connection tend to carry as many
  // fields as the one before (16 for the first), and an exactly sized small vector is cheaper to
  // allocate and to free than a large one.
  headers->reserve(fields_hint_);
  msg_.first_ns = ts_at(offset());
  msg_.last_ns = msg_.first_ns;
  start_ = {msg_.first_ns, lost_, loss_cause_};
  lost_ = false;
  loss_cause_ = ExchangeFlags::None;
  header_reported_ = false;
  state_ = State::AwaitBegin;
}

void HttpMessageParser::enter_scan(ExchangeFlags cause, bool origin_is_candidate) {
  state_ = State::Scanning;
  need_plausible_ = false;
  lost_ = true;
  loss_cause_ |= cause;
  origin_candidate_ = origin_is_candidate;
  skip_line_ = cause == ExchangeFlags::ParseError;
}

void HttpMessageParser::break_message(ExchangeFlags cause) {
  msg_.complete = false;
  if (cause == ExchangeFlags::Gap) msg_.gap = true;
  if (cause == ExchangeFlags::ParseError) msg_.parse_error = true;
  drop_engine();
  deferred_ = -1;
  pending_ = Event::MessageBroken;
  // After a parse error the scan resumes past the rejected line (see scan()): restarting at rd_
  // would loop forever on a plausible but invalid start line ("GET / HTTP/1.7").
  enter_scan(cause, cause == ExchangeFlags::Gap);
}

void HttpMessageParser::finish_message() {
  msg_.complete = true;
  drop_engine();
  deferred_ = -1;
  state_ = State::Idle;
  // A 101 or a tunnel: whatever follows is another protocol.
  if (kind_ == Kind::Response && msg_.upgrade) stop();
}

HttpMessageParser::Event HttpMessageParser::next() {
  for (;;) {
    if (pending_ != Event::NeedMore) return std::exchange(pending_, Event::NeedMore);
    Event e = Event::NeedMore;
    switch (state_) {
      case State::Closed:
        return Event::NeedMore;
      case State::Stopped:
        stats_.bytes_after_upgrade += buffered();
        rd_ = buf_.size();
        return Event::NeedMore;
      case State::AwaitBegin:
        return Event::MessageStart;
      case State::Idle:
        e = idle();
        break;
      case State::Scanning:
        e = scan();
        break;
      case State::InMessage:
        e = in_message();
        break;
    }
    // kContinue: the state changed, go round again (a pending event may have been set).
    if (e != kContinue) return e;
  }
}

HttpMessageParser::Event HttpMessageParser::idle() {
  const std::size_t end = region_end();
  while (rd_ < end && (buf_[rd_] == '\r' || buf_[rd_] == '\n')) ++rd_;  // RFC 9112 2.2
  if (rd_ == end) return at_boundary() ? apply_boundary() : Event::NeedMore;
  if (need_plausible_) {
    const std::uint8_t* p = buf_.data() + rd_;
    const std::uint8_t* last = buf_.data() + end;
    const Plausible verdict = kind_ == Kind::Request
                                  ? plausible_request(p, last, options_.max_header_bytes)
                                  : plausible_response(p, last);
    if (verdict == Plausible::Incomplete && !at_boundary()) return Event::NeedMore;
    need_plausible_ = false;
    if (verdict != Plausible::Yes) {
      ++stats_.midstream_starts;
      enter_scan(ExchangeFlags::Gap, false);
      return kContinue;
    }
  }
  start_message();
  return Event::MessageStart;
}

HttpMessageParser::Event HttpMessageParser::scan() {
  // Any byte may start the next message: a body need not end with a line break. The pattern is
  // strict enough (see plausible_*) that Beast accepts the start line it matched.
  const std::size_t end = region_end();
  const std::uint8_t* b = buf_.data();
  if (skip_line_) {
    // After a parse error the rest of that line is part of what was rejected; looking for starts
    // inside it would find suffixes of the same bad start line ("ET / HTTP/1.1").
    const auto* lf = std::find(b + rd_, b + end, '\n');
    if (lf == b + end) {
      skip(end - rd_);
      return at_boundary() ? apply_boundary() : Event::NeedMore;
    }
    skip(static_cast<std::size_t>(lf - (b + rd_)) + 1);
    skip_line_ = false;
  }
  for (std::size_t i = origin_candidate_ ? rd_ : rd_ + 1; i < end; ++i) {
    const Plausible verdict = kind_ == Kind::Request
                                  ? plausible_request(b + i, b + end, options_.max_header_bytes)
                                  : plausible_response(b + i, b + end);
    if (verdict == Plausible::No) continue;
    if (verdict == Plausible::Incomplete && at_boundary()) continue;  // nothing will complete it
    skip(i - rd_);
    if (verdict == Plausible::Incomplete) return Event::NeedMore;
    ++stats_.resyncs;
    start_message();
    return Event::MessageStart;
  }
  skip(end - rd_);
  return at_boundary() ? apply_boundary() : Event::NeedMore;
}

std::size_t HttpMessageParser::header_size(std::size_t end) {
  // eom_scanned_ bytes after rd_ are known not to hold the end; rd_ stays put until Beast is fed.
  // memchr jumps from one CR to the next (one per header line) instead of comparing every byte.
  const std::size_t from = rd_ + (eom_scanned_ > 3 ? eom_scanned_ - 3 : 0);
  const std::uint8_t* p = buf_.data() + from;
  const std::uint8_t* const last = buf_.data() + end;
  while (last - p >= 4) {
    p = static_cast<const std::uint8_t*>(std::memchr(p, '\r', static_cast<std::size_t>(last - p) - 3));
    if (p == nullptr) break;
    if (std::memcmp(p, "\r\n\r\n", 4) == 0)
      return static_cast<std::size_t>(p - (buf_.data() + rd_)) + 4;
    ++p;
  }
  eom_scanned_ = end - rd_;
  return 0;
}

// The message ended before its header was whole, so Beast never saw it: take the start line from
// the bytes if it is all there, so the message can still be paired and reported.
void HttpMessageParser::recover_start_line(std::size_t end) {
  if (msg_.has_start_line) return;
  const std::uint8_t* p = buf_.data() + rd_;
  const std::uint8_t* last = buf_.data() + end;
  const auto* eol = std::search(p, last, kCrlf.begin(), kCrlf.end());
  if (eol == last) return;
  const std::string_view line(reinterpret_cast<const char*>(p), static_cast<std::size_t>(eol - p));
  if (kind_ == Kind::Request) {
    if (plausible_request(p, last, options_.max_header_bytes) != Plausible::Yes) return;
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    msg_.request.method = std::string(line.substr(0, sp1));
    msg_.request.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    msg_.request.version = line.back() == '0' ? 10 : 11;
  } else {
    if (plausible_response(p, last) != Plausible::Yes) return;
    msg_.response.version = line[7] == '0' ? 10 : 11;
    msg_.response.status = static_cast<std::uint16_t>((line[9] - '0') * 100 +
                                                      (line[10] - '0') * 10 + (line[11] - '0'));
    msg_.response.reason = std::string(line.substr(13));
  }
  msg_.has_start_line = true;
}

HttpMessageParser::Event HttpMessageParser::in_message() {
  using Status = Engine::Status;
  if (deferred_ < 0) {
    const std::size_t end = region_end();
    if (rd_ == end) return at_boundary() ? apply_boundary() : Event::NeedMore;
    if (!engine_->header_done()) {
      // Beast gets the header only once it is whole. Fed piecemeal, Beast parses the start line
      // early or late depending on where the pieces end, and a message broken inside its header
      // would then look different for the same bytes.
      const std::size_t header = header_size(end);
      if (header == 0 && end - rd_ <= options_.max_header_bytes) {
        return at_boundary() ? apply_boundary() : Event::NeedMore;
      }
      if (header == 0 || header > options_.max_header_bytes) {
        ++stats_.header_limit_hits;
        ++stats_.parse_errors;
        recover_start_line(end);
        break_message(ExchangeFlags::ParseError);
        return kContinue;
      }
    }
    // Beast 1.74 asserts in debug builds when it saw the last-chunk line on a need-more call and
    // the next call brings fewer than 5 bytes ("0\r\n", then "0\r\n\r"). A chunked body always
    // has at least 5 bytes left at a chunk-size line (the last chunk "0\r\n\r\n"), so waiting
    // for them costs nothing.
    if (chunk_wait_ && end - rd_ < 5) return at_boundary() ? apply_boundary() : Event::NeedMore;
    const Engine::Result r = engine_->feed(buf_.data() + rd_, end - rd_);
    chunk_wait_ = r.status == Engine::Status::NeedMore && engine_->header_done();
    consume(r.used);
    // Ok without progress cannot be produced by Beast's put(); treat it as need-more to be safe.
    const Status st =
        r.status == Status::Ok && r.used == 0 && !engine_->done() ? Status::NeedMore : r.status;
    deferred_ = static_cast<int>(st);
  }
  if (!header_reported_ && engine_->header_done()) {
    header_reported_ = true;
    return Event::HeaderDone;
  }
  const auto st = static_cast<Status>(std::exchange(deferred_, -1));
  switch (st) {
    case Status::Tunnel:
      finish_message();
      return Event::MessageDone;
    case Status::Ok:
      if (engine_->done()) {
        finish_message();
        return Event::MessageDone;
      }
      return kContinue;
    case Status::NeedMore:
      // A chunk-size line or trailer section still incomplete; bound what it holds.
      if (region_end() - rd_ > options_.max_header_bytes) {
        ++stats_.header_limit_hits;
        ++stats_.parse_errors;
        break_message(ExchangeFlags::ParseError);
        return kContinue;
      }
      return at_boundary() ? apply_boundary() : Event::NeedMore;
    case Status::Error:
      ++stats_.parse_errors;
      break_message(ExchangeFlags::ParseError);
      return kContinue;
  }
  return kContinue;
}

// Parsing reached region_end() and it is a boundary: a gap there, or the end of the stream.
// [rd_, region_end()) is an unparsable tail (or empty).
HttpMessageParser::Event HttpMessageParser::apply_boundary() {
  if (!gaps_.empty()) {
    apply_gap();
  } else {
    apply_eof();
  }
  return kContinue;
}

void HttpMessageParser::apply_gap() {
  const GapMark g = gaps_.front();
  gaps_.pop_front();
  const auto tail = static_cast<std::size_t>(g.at - offset());
  std::uint64_t missing = g.missing;
  if (state_ == State::InMessage) {
    if (tail == 0) {
      if (const std::uint64_t framed = engine_->framed_remaining(); framed > 0) {
        const std::uint64_t n = std::min(missing, framed);
        engine_->feed_hole(n);
        missing -= n;
        msg_.gap = true;
        msg_.snaplen_cut |= g.snaplen;
        msg_.last_ns = g.ts;
        ++stats_.gaps_in_body;
        if (engine_->done()) {
          finish_message();
          pending_ = Event::MessageDone;
        }
        if (missing == 0) return;
        // The body ended inside the gap and the rest of the gap may hold whole messages.
        if (state_ == State::InMessage) {  // cannot happen: n == framed ended the body
          break_message(ExchangeFlags::Gap);
          return;
        }
      } else if (engine_->delimited_by_eof()) {
        engine_->note_hole(missing);
        msg_.gap = true;
        msg_.snaplen_cut |= g.snaplen;
        msg_.last_ns = g.ts;
        ++stats_.gaps_in_body;
        return;
      }
    }
    if (state_ == State::InMessage) {
      if (tail > 0) msg_.last_ns = ts_at(g.at - 1);
      if (!engine_->header_done()) recover_start_line(rd_ + tail);
      skip(tail);
      msg_.snaplen_cut |= g.snaplen;
      break_message(ExchangeFlags::Gap);
      return;
    }
  }
  if (finished()) return;
  skip(tail);
  enter_scan(ExchangeFlags::Gap, true);
}

void HttpMessageParser::apply_eof() {
  const std::size_t tail = buf_.size() - rd_;
  if (state_ == State::InMessage) {
    if (tail == 0 && eof_clean_ && engine_->delimited_by_eof() && engine_->feed_eof()) {
      finish_message();
      pending_ = Event::MessageDone;
    } else {
      if (tail > 0) msg_.last_ns = ts_at(offset() + tail - 1);
      if (!engine_->header_done()) recover_start_line(buf_.size());
      skip(tail);
      msg_.complete = false;
      drop_engine();
      pending_ = Event::MessageBroken;
    }
  } else {
    skip(tail);
  }
  state_ = State::Closed;
}

}  // namespace reprise::capture
