#pragma once
// Target: where a replay sends its requests, and how a recorded request is turned into the bytes
// sent there.

#include <cstdint>
#include <string>
#include <string_view>

#include "reprise/format/records.hpp"
#include "reprise/replay/rewrites.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

struct Target {
  std::string host;        // as given (name or address; IPv6 without brackets)
  std::uint16_t port = 80;
  std::string authority;   // host[:port] as a Host header value
  std::string url;         // normalised: http://host:port

  // "http://host[:port][/]" (a trailing slash only: paths are taken from the trace). https and
  // other schemes are refused with errc::bad_target and a sentence saying what to use instead.
  static Result<Target> parse(std::string_view url);
};

// The request as sent: the recorded method, target, headers (order and case kept) and body, as
// HTTP/1.1 on a keep-alive connection. Hop-by-hop fields (Connection and what it names,
// Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) and Content-Length are
// dropped; the body (stored decoded of chunking) gets a Content-Length; a request without Host
// gets the target's. `rewrites` then changes the target and headers (rewrites.hpp).
std::string request_wire(const format::fb::Request& request, const Target& target,
                         const Rewrites& rewrites = {});

}  // namespace reprise::replay
