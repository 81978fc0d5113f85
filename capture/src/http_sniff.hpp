#pragma once
// Recognises the first bytes of an HTTP/1.x message, so the reassembler can tell client from
// server when the capture missed the SYN. Private to the capture library.

#include <cstdint>
#include <span>

namespace reprise::capture {

// A request line: method token, SP, target, SP, "HTTP/1.". When the bytes end before the line
// does, a well-known method (GET, POST, ...) followed by SP is enough.
bool looks_like_http_request(std::span<const std::uint8_t> bytes);

// A status line: starts with "HTTP/1." (at least "HTTP/" when fewer bytes are there).
bool looks_like_http_response(std::span<const std::uint8_t> bytes);

}  // namespace reprise::capture
