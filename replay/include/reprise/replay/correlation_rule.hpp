#pragma once
// CorrelationRule: where in a response a value a later request needs can be found, and the
// values found there. Sans-I/O: a response's headers and body in, (place, value) pairs out.
//
// Rules, in --correlate syntax:
//   json:$.access_token        a JSON field; steps .name, ["name"], [N] and [*] (every element)
//   header:X-Request-Token     the value of every response field of that name
//   cookie:sid                 the value a Set-Cookie of that name sets
//   html:csrf                  <input name="csrf" value="..."> or <meta name="csrf" content="...">
//   location                   the path segments and query values of the Location header
//   regex:csrf=([a-f0-9]+)     group 1 (the whole match without a group) in each header line
//                              ("Name: value") and in the body
// A value is found at a *place* — the concrete JSON path ("$.items[3].id"), the n-th field of a
// name, "seg:2" or "query:id" of a Location — so the replayed response's value at the same place
// replaces the recorded one.
//
// Automatic detection (value_detector.hpp) asks candidate_values() for everything in a response
// that looks like an identifier (looks_like_token) and turns the places whose values later
// requests reuse into rules of the same syntax.
//
// Limits: JSON nesting past 64 levels is not walked; at most `max_values` values per response.

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/result.hpp"

namespace reprise::replay {

enum class ValueSource : std::uint8_t { Json, Header, SetCookie, Html, Location, Regex };

struct CorrelationRule {
  ValueSource source = ValueSource::Json;
  std::string name;   // JSON path, field name, cookie name or input name; empty otherwise
  std::regex regex;   // Regex only
  std::string text;   // as given ("json:$.access_token"), the rule's identity
  bool automatic = false;  // found by detection, not given with --correlate
};

// Parses --correlate syntax; errors are errc::bad_plan naming the flag and the syntax.
Result<CorrelationRule> parse_correlation_rule(std::string_view text);

// A response as the extractors see it: fields in order (names as received) and the body (cut
// at whatever was kept of it).
struct ResponseView {
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
};

// One value found: the rule's index in the list given, where, and the value as it appears.
struct FoundValue {
  std::uint32_t rule = 0;
  std::string place;
  std::string value;
};

// Every non-empty value `rules` find in `response` (the JSON body is parsed once, only when a
// JSON rule is present and the body looks like JSON), at most `max_values`.
std::vector<FoundValue> extract_values(const std::vector<CorrelationRule>& rules,
                                       const ResponseView& response, std::size_t max_values = 256);

// What makes a value an identifier worth following: at least `min_length` bytes, no
// whitespace or control characters, Shannon entropy of its bytes at least `min_entropy` bits
// per byte, and either both a letter and a digit or at least 16 bytes. "true", "1", "OK",
// "application/json; charset=utf-8" and a unix timestamp are not; a UUID, a hex or base64 token
// and a JWT are.
struct TokenShape {
  std::size_t min_length = 8;
  double min_entropy = 2.5;
};
bool looks_like_token(std::string_view value, const TokenShape& shape = {});
double shannon_entropy(std::string_view value);  // bits per byte

// A found value with the rule text that finds it ("json:$.items[*].id" for a value at
// "$.items[3].id").
struct Candidate {
  std::string rule;
  std::string place;
  std::string value;
};

// Every value in `response` that looks_like_token(), from the places automatic detection
// watches: JSON string fields, response fields other than framing, caching and
// description fields (Date, Content-Type, Server, ...), Set-Cookie values, hidden inputs and
// meta tags, the Location header. At most `max_values`.
std::vector<Candidate> candidate_values(const ResponseView& response, const TokenShape& shape,
                                        std::size_t max_values = 256);

// `value` percent-encoded as in a query or form (every byte outside RFC 3986's unreserved
// set), the way a browser sends a token with '+', '/' or '=' in a URL.
std::string percent_encode(std::string_view value);

}  // namespace reprise::replay
