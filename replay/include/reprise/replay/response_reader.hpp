#pragma once
// ResponseReader: the bytes of one HTTP/1.x response in, its status, framing and digest out.
// Sans-I/O (Beast's basic_parser::put underneath); the connection feeds what it reads.
//
// The body is never held whole: it is digested as it arrives (format::BodyDigest) and at most
// `keep_body` bytes of it are kept for the run file (with the headers, when keep_body > 0), so a
// 1 GB download costs no memory. The header is limited to 64 KiB; past it, or on bytes that are
// not HTTP, the response is a protocol error.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "reprise/format/records.hpp"

namespace reprise::replay {

class ResponseReader {
 public:
  enum class State : std::uint8_t { NeedMore, Done, Error };

  // Which header fields to keep besides what keep_body asks for.
  enum class Headers : std::uint8_t {
    None,
    SetCookie,  // Set-Cookie only: all a cookie jar reads from an answer
    All,
  };

  // `head`: the request was HEAD (the response has no body whatever its headers say).
  // `keep_body`: bytes of body (and all the headers) to keep; 0 keeps none. `headers`: fields
  // to keep even with keep_body 0 (the cookie jar needs Set-Cookie from every response, value
  // extraction every field of a producer's).
  ResponseReader(bool head, std::size_t keep_body, Headers headers = Headers::None);
  ~ResponseReader();
  // Ready for the next response on the same connection (no reallocation of the reader).
  void reset(bool head);
  void reset(bool head, std::size_t keep_body, Headers headers);
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Feeds bytes; returns how many belong to this response (the rest came after it: a server
  // must not send them, but some do). Bytes the parser cannot use yet (a partial header) are
  // held and count as used. After Done or Error further calls use nothing.
  std::size_t feed(std::span<const std::uint8_t> bytes);
  // The connection closed: completes a close-delimited body, else an error if mid-response.
  void eof();

  State state() const { return state_; }
  bool started() const { return received_ > 0; }
  std::uint16_t status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }  // the connection may carry another request
  std::uint64_t bytes_received() const { return received_; }
  std::uint64_t body_digest() const { return digest_.finish(); }
  const std::string& error() const { return error_; }

  std::vector<std::uint8_t>& kept_body() { return body_; }
  std::vector<std::pair<std::string, std::string>>& kept_headers() { return headers_; }

 private:
  struct Parser;
  void reset_parser();
  struct ParserSlot;
  std::unique_ptr<ParserSlot> slot_;
  Parser* parser_ = nullptr;  // in slot_
  bool head_ = false;
  State state_ = State::NeedMore;
  std::uint16_t status_ = 0;
  bool keep_alive_ = false;
  std::uint64_t received_ = 0;
  std::size_t keep_body_ = 0;
  Headers keep_headers_ = Headers::None;
  format::BodyDigest digest_;
  std::vector<std::uint8_t> body_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string error_;
  std::vector<std::uint8_t> held_;  // a partial header (or chunk line) Beast has not taken yet
};

}  // namespace reprise::replay
