#pragma once
// What the cookie jar and its date parser share (internal): the ends of time in int64 unix ns,
// where "never expires" and "expired long ago" saturate, and the digit test of RFC 6265's grammar.

#include <cstdint>
#include <limits>

namespace reprise::replay::cookie_time {

inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kLongAgo = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t kNsPerSecond = 1'000'000'000;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace reprise::replay::cookie_time
