#pragma once
// MessageRelay: one HTTP/1.x message passing through the recording proxy, sans-I/O. Bytes from
// the sender go in; bytes to forward and the recorded copy come out.
//
// The head is parsed whole (Beast's basic_parser, header limit enforced) and forwarded
// rewritten: hop-by-hop fields (Connection and the fields it names, Keep-Alive,
// Proxy-Connection, TE, Trailer, Upgrade) are dropped (RFC 9110 7.6.1); the Connection field it
// goes out with is the relay's (`connection`), and the caller adds its own fields to the
// forwarded bytes. "Expect: 100-continue" is reported (expects_continue()) and not forwarded:
// the caller answers it. The body is forwarded as received — Content-Length or chunked framing
// kept, so nothing is buffered whole — while the recorded copy keeps the decoded body up to
// `max_body` bytes (the rest is counted in body_size and flagged). A 1xx response other than
// 101 is a message of its own: the caller forwards it and resets the relay for the final
// response.
//
// Errors (a head over the limit, bytes that are not HTTP, a request whose Transfer-Encoding
// does not end in chunked — with or without Content-Length, RFC 9112 6.3: its length is not
// known, and the next hop could frame it differently, a smuggled request) end the message:
// state() is Error and error() says why; nothing more is consumed.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/capture/http_exchange.hpp"

namespace reprise::capture {

class MessageRelay {
 public:
  enum class State : std::uint8_t { Head, Body, Done, Error };

  // `request`: parse requests (else responses). `header_limit` bytes of head at most.
  MessageRelay(bool request, std::size_t header_limit, std::size_t max_body);
  ~MessageRelay();
  MessageRelay(const MessageRelay&) = delete;
  MessageRelay& operator=(const MessageRelay&) = delete;

  // Ready for the next message. `head_request`: the response answers a HEAD (no body).
  void reset(bool head_request = false);

  // Consumes bytes; appends what to forward to `forward` (the rewritten head once it is whole,
  // then body bytes as they come). Returns bytes consumed: fewer than given while the head is
  // incomplete (keep them and call again with more) or once the message is done (the rest
  // belongs to the next message).
  std::size_t feed(std::span<const std::uint8_t> in, std::string& forward);
  // The sender closed: completes a body delimited by the close, else an error mid-message.
  void eof();

  // What the connection the message goes out on does after it, said in the forwarded head's
  // Connection field (set before the head is complete; the received field is hop-by-hop):
  // "close" with Close, and for a final response that ends its sender's connection
  // (keep_alive() false) whatever this says — the receiver's connection ends with it (a body
  // delimited by the close needs that, and the receiver learns that what it sent after the
  // request goes unanswered); else "keep-alive" with KeepAlive or on an HTTP/1.0 message, whose
  // default is close; else none. A 1xx response goes without.
  enum class Connection : std::uint8_t { None, KeepAlive, Close };
  Connection connection = Connection::None;

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  bool too_large() const { return too_large_; }  // the error was the header limit

  // Parsed head (valid from Body on).
  const HttpRequest& request() const { return request_; }
  const HttpResponse& response() const { return response_; }
  HttpRequest& request() { return request_; }
  HttpResponse& response() { return response_; }
  bool keep_alive() const { return keep_alive_; }     // the sender allows another message
  bool upgrade() const { return upgrade_; }           // Upgrade asked / 101, or CONNECT
  bool expects_continue() const { return expect_continue_; }  // "Expect: 100-continue", HTTP/1.1
  bool body_truncated() const { return truncated_; }  // recorded body cut at max_body

 private:
  struct Parser;
  // The head is whole: an error if its framing is one the next hop could read differently.
  bool framing_ok();
  void head_done(std::string& forward);
  void fail(std::string why, bool too_large = false);

  bool request_mode_;
  std::size_t header_limit_, max_body_;
  std::unique_ptr<Parser> parser_;
  State state_ = State::Head;
  std::string error_;
  bool too_large_ = false, keep_alive_ = false, upgrade_ = false, expect_continue_ = false,
       truncated_ = false;
  HttpRequest request_;
  HttpResponse response_;
  std::vector<std::string_view> named_;  // head_done(): what Connection names (kept for its capacity)
};

// RFC 9110 7.6.1 hop-by-hop fields: the fixed ones and those `connection` names ("close, X-A"),
// except Content-Length, Transfer-Encoding and Host, which are forwarded whatever it names.
bool is_hop_by_hop(std::string_view name, std::span<const std::string_view> named);

}  // namespace reprise::capture
