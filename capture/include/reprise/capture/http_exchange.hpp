#pragma once
// HttpExchange: one request and its response as the capture core produces them, before they are
// written as a trace `Exchange` record (format/schemas/reprise.fbs). Plain values, no parser types.
//
// Timestamps are packet time in ns, as passed to the StreamSink calls: "first byte" is the
// timestamp of the on_data call that delivered the message's first byte, "last byte" that of the
// call that delivered its last byte (or of the on_gap call when the message ended inside a gap).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reprise/capture/stream_events.hpp"

namespace reprise::capture {

// Anomalies of one exchange. Each bit has the value and meaning of the schema's `ExchangeFlags`
// (bit N = the schema's N-th enumerator), so `static_cast<std::uint32_t>` converts to the
// FlatBuffer value. The schema's later bits (NoRequest, Late) are set by the trace writer side:
// NoRequest is `has_request == false` here.
enum class ExchangeFlags : std::uint32_t {
  None = 0,
  RequestBodyTruncated = 1u << 0,   // request body not stored past the body limit or a gap
  ResponseBodyTruncated = 1u << 1,  // response body not stored past the body limit or a gap
  NoResponse = 1u << 2,             // the request was seen, its response never was
  Gap = 1u << 3,                    // missing bytes touched this exchange or decided its pairing
  ParseError = 1u << 4,             // the HTTP parser rejected the stream inside this exchange
  Redacted = 1u << 5,               // set by redaction downstream, never by the assembler
  Upgrade = 1u << 6,                // 101 / CONNECT 2xx: the stream stopped being HTTP here
  ResponseIncomplete = 1u << 7,     // the response started but did not finish
  SnaplenTruncated = 1u << 8,       // bytes of it were cut by the capture's snaplen (with Gap)
  RequestIncomplete = 1u << 9,      // the request started but did not finish (close, gap, error)
};

constexpr ExchangeFlags operator|(ExchangeFlags a, ExchangeFlags b) {
  return static_cast<ExchangeFlags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr ExchangeFlags operator&(ExchangeFlags a, ExchangeFlags b) {
  return static_cast<ExchangeFlags>(static_cast<std::uint32_t>(a) & static_cast<std::uint32_t>(b));
}
constexpr ExchangeFlags& operator|=(ExchangeFlags& a, ExchangeFlags b) { return a = a | b; }
// True when `flags` has every bit of `bit`.
constexpr bool has(ExchangeFlags flags, ExchangeFlags bit) { return (flags & bit) == bit; }

// Header fields in wire order, names in their original case, values as received (obs-fold
// replaced by SP, surrounding whitespace trimmed, as Beast delivers them).
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;         // as sent, e.g. "GET"
  std::string target;         // the request-target, e.g. "/a?b=c"
  std::uint8_t version = 11;  // 10 or 11
  HttpHeaders headers;
  HttpHeaders trailers;            // chunked trailer fields (not in the schema: merge or drop)
  std::vector<std::uint8_t> body;  // transfer-coding removed, at most the body limit
  std::uint64_t body_size = 0;     // every body byte seen or skipped by a gap, >= body.size()
};

struct HttpResponse {
  std::uint16_t status = 0;  // 0 when the status line was never seen (cut by a gap or error)
  std::string reason;
  std::uint8_t version = 11;
  HttpHeaders headers;
  HttpHeaders trailers;
  std::vector<std::uint8_t> body;
  std::uint64_t body_size = 0;
};

struct HttpExchange {
  std::uint64_t connection_id = 0;
  std::uint32_t connection_index = 0;  // 0-based position of this exchange on its connection
  IpEndpoint client;
  IpEndpoint server;

  // For an exchange without request (has_request false) the request timestamps equal
  // response_first_ns, so consumers that order by request time still place it; without response
  // (NoResponse) the response timestamps are 0.
  std::int64_t request_first_ns = 0;
  std::int64_t request_last_ns = 0;
  std::int64_t response_first_ns = 0;
  std::int64_t response_last_ns = 0;

  // false for an orphan response: a response whose request was never seen (lost in a gap, before
  // a mid-stream start, or inside unparsable bytes). `request` is then empty.
  bool has_request = true;
  HttpRequest request;
  HttpResponse response;  // empty when flags has NoResponse
  ExchangeFlags flags = ExchangeFlags::None;

  bool has_response() const { return !has(flags, ExchangeFlags::NoResponse); }
};

}  // namespace reprise::capture
