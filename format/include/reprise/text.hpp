#pragma once
// Small text helpers shared by every library (header names compare case-insensitively,
// RFC 9110 5.1; optional whitespace is spaces and tabs, 5.6.3).

#include <strings.h>

#include <string_view>

namespace reprise {

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace reprise
