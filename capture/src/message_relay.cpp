#include "reprise/capture/message_relay.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "reprise/text.hpp"

namespace reprise::capture {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

bool is_hop_by_hop(std::string_view name, std::span<const std::string_view> named) {
  static constexpr std::string_view kFields[] = {"connection", "keep-alive", "proxy-connection",
                                                 "te", "trailer", "upgrade"};
  for (auto f : kFields)
    if (iequals(name, f)) return true;
  // The body is forwarded with its framing as received, so Content-Length and Transfer-Encoding
  // travel with it whatever `Connection` says: dropping them would let the next hop frame the
  // body differently (a body that is a smuggled request). Host is never the sender's to drop.
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "host"))
    return false;
  for (const auto n : named)
    if (iequals(name, n)) return true;
  return false;
}

namespace {

// Beast's basic_parser is a template on the direction; the relay holds either through this.
struct RelayParserBase {
  virtual ~RelayParserBase() = default;
  virtual std::size_t put(const std::uint8_t* p, std::size_t n, error_code& ec) = 0;
  virtual void put_eof(error_code& ec) = 0;
  virtual bool is_header_done() const = 0;
  virtual bool is_done() const = 0;
  virtual bool keep_alive() const = 0;
  virtual bool upgrade() const = 0;
  virtual bool chunked() const = 0;
  virtual bool has_content_length() const = 0;
  virtual bool need_eof() const = 0;
  virtual void eager(bool v) = 0;
  // Why the parser stopped the message itself ("" when it did not): see on_field_impl.
  virtual const std::string& refusal() const = 0;
};

// Fields a trailer section must not carry (RFC 9110 6.5.1): framing, routing and hop-by-hop
// ones. The relay forwards a chunked body's trailers as received, and a next hop that merges
// trailers into the header would read them as the request's own (a second Host, say).
bool forbidden_in_trailers(std::string_view name) {
  return is_hop_by_hop(name, {}) || iequals(name, "content-length") ||
         iequals(name, "transfer-encoding") || iequals(name, "host");
}

template <bool isRequest>
struct RelayParser final : http::basic_parser<isRequest>, RelayParserBase {
  HttpRequest& req;
  HttpResponse& res;
  std::size_t max_body;
  bool& truncated;
  bool header_seen = false;
  std::string refused;

  RelayParser(HttpRequest& q, HttpResponse& s, std::size_t limit, std::size_t max, bool& trunc, bool head)
      : req(q), res(s), max_body(max), truncated(trunc) {
    this->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limit, UINT32_MAX)));
    this->body_limit(std::numeric_limits<std::uint64_t>::max());  // streamed: never held whole
    if (head) this->skip(true);
  }

  void on_request_impl(http::verb, string_view method, string_view target, int version, error_code&) override {
    req.method.assign(method.data(), method.size());
    req.target.assign(target.data(), target.size());
    req.version = static_cast<std::uint8_t>(version);
  }
  void on_response_impl(int code, string_view reason, int version, error_code&) override {
    res.status = static_cast<std::uint16_t>(code);
    res.reason.assign(reason.data(), reason.size());
    res.version = static_cast<std::uint8_t>(version);
  }
  void on_field_impl(http::field, string_view name, string_view value, error_code& ec) override {
    if (header_seen && forbidden_in_trailers(std::string_view(name.data(), name.size()))) {
      refused = "a trailer field '" + std::string(name) + "' (framing, routing or hop-by-hop fields are not trailers)";
      ec = http::error::bad_field;
      return;
    }
    auto& fields = isRequest ? (header_seen ? req.trailers : req.headers)
                             : (header_seen ? res.trailers : res.headers);
    if (fields.empty()) fields.reserve(8);  // most heads: one allocation, not four
    fields.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override { header_seen = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override {
    take(body);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    take(body);
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  void take(string_view body) {
    auto& stored = isRequest ? req.body : res.body;
    auto& size = isRequest ? req.body_size : res.body_size;
    size += body.size();
    const std::size_t room = max_body - std::min(max_body, stored.size());
    if (body.size() > room) truncated = true;
    const auto* p = reinterpret_cast<const std::uint8_t*>(body.data());
    stored.insert(stored.end(), p, p + std::min(room, body.size()));
  }

  std::size_t put(const std::uint8_t* p, std::size_t n, error_code& ec) override {
    return http::basic_parser<isRequest>::put(boost::asio::const_buffer(p, n), ec);
  }
  void put_eof(error_code& ec) override { http::basic_parser<isRequest>::put_eof(ec); }
  bool is_header_done() const override { return http::basic_parser<isRequest>::is_header_done(); }
  bool is_done() const override { return http::basic_parser<isRequest>::is_done(); }
  bool keep_alive() const override { return http::basic_parser<isRequest>::keep_alive(); }
  bool upgrade() const override { return http::basic_parser<isRequest>::upgrade(); }
  bool chunked() const override { return http::basic_parser<isRequest>::chunked(); }
  bool has_content_length() const override {
    return http::basic_parser<isRequest>::content_length().has_value();
  }
  bool need_eof() const override { return http::basic_parser<isRequest>::need_eof(); }
  void eager(bool v) override { http::basic_parser<isRequest>::eager(v); }
  const std::string& refusal() const override { return refused; }
};

// The proxy answers this expectation itself (nginx does too): most servers never send the 100
// an origin may hold the body for, so relaying it would leave both sides waiting.
bool is_continue_expectation(std::string_view name, std::string_view value) {
  return iequals(name, "expect") && iequals(trim_ows(value), "100-continue");
}

// "close, X-A" -> {"close", "X-A"}: views into `headers`, into `out` (cleared first).
void connection_options(const HttpHeaders& headers, std::vector<std::string_view>& out) {
  out.clear();
  for (const auto& [name, value] : headers)
    if (iequals(name, "connection")) for_each_list_item(value, [&](std::string_view item) { out.push_back(item); });
}

}  // namespace

// Both directions' parsers live here, rebuilt in place for each message (no allocation per
// message); `impl` is the one in use.
struct MessageRelay::Parser {
  std::optional<RelayParser<true>> request;
  std::optional<RelayParser<false>> response;
  RelayParserBase* impl = nullptr;
};

MessageRelay::MessageRelay(bool request, std::size_t header_limit, std::size_t max_body)
    : request_mode_(request),
      header_limit_(header_limit),
      max_body_(max_body),
      parser_(std::make_unique<Parser>()) {
  reset();
}

MessageRelay::~MessageRelay() = default;

void MessageRelay::reset(bool head_request) {
  state_ = State::Head;
  error_.clear();
  too_large_ = keep_alive_ = upgrade_ = expect_continue_ = truncated_ = false;
  connection = Connection::None;
  // A relay fills only the message of its direction.
  if (request_mode_) {
    request_ = HttpRequest{};
    parser_->impl = &parser_->request.emplace(request_, response_, header_limit_, max_body_, truncated_, false);
  } else {
    response_ = HttpResponse{};
    parser_->impl = &parser_->response.emplace(request_, response_, header_limit_, max_body_, truncated_,
                                               head_request);
  }
}

void MessageRelay::fail(std::string why, bool too_large) {
  state_ = State::Error;
  error_ = std::move(why);
  too_large_ = too_large;
}

bool MessageRelay::framing_ok() {
  if (!request_mode_) return true;
  // One pass over the fields for both checks.
  std::size_t hosts = 0;
  bool transfer_encoding = false;
  for (const auto& field : request_.headers) {
    if (iequals(field.first, "host")) ++hosts;
    else if (iequals(field.first, "transfer-encoding")) transfer_encoding = true;
  }
  // RFC 9112 3.2: two Host fields are a 400; forwarded, each hop could route by another one.
  if (hosts > 1) {
    fail("more than one Host field");
    return false;
  }
  // Beast takes a body as chunked only when chunked is the last coding, and refuses
  // Content-Length beside chunked; any other Transfer-Encoding leaves it framed by a
  // Content-Length or by nothing, which the next hop may read otherwise.
  if (transfer_encoding && !parser_->impl->chunked()) {
    fail("a Transfer-Encoding that does not end in chunked");
    return false;
  }
  return true;
}

void MessageRelay::head_done(std::string& forward) {
  RelayParserBase& p = *parser_->impl;
  keep_alive_ = p.keep_alive();
  const HttpHeaders& fields = request_mode_ ? request_.headers : response_.headers;
  connection_options(fields, named_);
  if (request_mode_) {
    upgrade_ = p.upgrade() || std::string_view(request_.method) == "CONNECT";
    // RFC 9110 10.1.1: an HTTP/1.0 request's expectation is ignored.
    for (const auto& [name, value] : fields)
      if (is_continue_expectation(name, value)) expect_continue_ = request_.version >= 11;
    forward += request_.method;
    forward += ' ';
    forward += request_.target;
    forward += request_.version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  } else {
    upgrade_ = response_.status == 101;
    forward += response_.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    // Three digits always (RFC 9112 4: status-code = 3DIGIT): Beast takes "000" to "099" from
    // the upstream, and "0" would be a status line no client parses.
    const unsigned status = response_.status;
    const char digits[3] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                            static_cast<char>('0' + status % 10)};
    forward.append(digits, sizeof digits);
    forward += ' ';
    forward += response_.reason;
    forward += "\r\n";
  }
  for (const auto& [name, value] : fields) {
    if (is_hop_by_hop(name, named_) || (request_mode_ && is_continue_expectation(name, value))) continue;
    forward += name;
    forward += ": ";
    forward += value;
    forward += "\r\n";
  }
  // A 1xx response says nothing of the connection: the final one does.
  const bool interim = !request_mode_ && response_.status / 100 == 1 && response_.status != 101;
  const bool http10 = (request_mode_ ? request_.version : response_.version) == 10;
  if (!interim && (connection == Connection::Close || (!request_mode_ && !keep_alive_)))
    forward += "Connection: close\r\n";
  else if (!interim && (connection == Connection::KeepAlive || http10))
    forward += "Connection: keep-alive\r\n";
  forward += "\r\n";
}

std::size_t MessageRelay::feed(std::span<const std::uint8_t> in, std::string& forward) {
  RelayParserBase& p = *parser_->impl;
  std::size_t consumed = 0;
  error_code ec;
  auto failed = [&](const error_code& e) {
    fail(e.message(), e == http::error::header_limit);
    return consumed;
  };
  if (state_ == State::Head) {
    // Not eager: put() stops at the end of the head, so the head's bytes are known exactly.
    p.eager(false);
    const std::size_t n = p.put(in.data(), in.size(), ec);
    // Beast may take a complete start line before the rest of the head has come.
    if (ec == http::error::need_more) return n;
    if (ec) return failed(ec);
    consumed = n;
    in = in.subspan(n);
    if (!p.is_header_done()) return consumed;
    if (!framing_ok()) return consumed;
    head_done(forward);
    state_ = p.is_done() ? State::Done : State::Body;
  }
  if (state_ != State::Body) return consumed;
  p.eager(true);
  while (!in.empty() && !p.is_done()) {
    const std::size_t n = p.put(in.data(), in.size(), ec);
    forward.append(reinterpret_cast<const char*>(in.data()), n);
    consumed += n;
    in = in.subspan(n);
    if (n == 0 && in.size() > header_limit_) {
      // Beast takes a chunk-size line or the trailer section only whole, and bounds neither:
      // the header limit bounds what waits here too, else a sender could make us hold any amount.
      fail("a chunk-size line or trailer section over " + std::to_string(header_limit_) + " bytes");
      return consumed;
    }
    if (ec == http::error::need_more) break;
    if (!p.refusal().empty()) {
      fail(p.refusal());
      return consumed;
    }
    if (ec) return failed(ec);
    if (n == 0) break;
  }
  if (p.is_done()) state_ = State::Done;
  return consumed;
}

void MessageRelay::eof() {
  if (state_ == State::Done || state_ == State::Error) return;
  if (state_ == State::Head) return fail("closed before the head was complete");
  error_code ec;
  parser_->impl->put_eof(ec);
  if (ec) return fail(ec.message());
  state_ = State::Done;
}

}  // namespace reprise::capture
