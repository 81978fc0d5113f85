#pragma once
// Small text helpers shared by every library (header names compare case-insensitively,
// RFC 9110 5.1; optional whitespace is spaces and tabs, 5.6.3).

#include <string_view>

namespace reprise {

// ASCII case-insensitive equality: HTTP names and tokens are ASCII, so no locale is consulted
// (strncasecmp did, at some 20 ns a call on every field of every message) and a NUL byte is
// compared like any other.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    const unsigned char folded = x | 0x20;  // lower case, for letters
    if (folded != (y | 0x20) || folded < 'a' || folded > 'z') return false;
  }
  return true;
}

inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(item) for each non-empty item of a comma-separated field value ("close, X-A"),
// trimmed of optional whitespace (RFC 9110 5.6.1 lists).
template <typename F>
void for_each_list_item(std::string_view value, F&& f) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view item = trim_ows(value.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// RFC 9110 9.2.2: sending one of these twice has the effect of sending it once, so a request
// lost with a connection the server closed may go again (RFC 9112 9.3.1).
inline bool is_idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    if (method == m) return true;
  return false;
}

}  // namespace reprise
