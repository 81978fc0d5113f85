#include "http_sniff.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace reprise::capture {
namespace {

constexpr std::string_view kVersion = "HTTP/1.";
constexpr std::size_t kMaxMethod = 32;

bool is_tchar(std::uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(static_cast<char>(c)) != std::string_view::npos;
}

bool known_method(std::span<const std::uint8_t> m) {
  constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  const std::string_view s(reinterpret_cast<const char*>(m.data()), m.size());
  return std::find(kMethods.begin(), kMethods.end(), s) != kMethods.end();
}

// True when `bytes` starts with as much of `prefix` as it holds.
bool starts_like(std::span<const std::uint8_t> bytes, std::string_view prefix) {
  const std::size_t n = std::min(bytes.size(), prefix.size());
  return std::equal(prefix.begin(), prefix.begin() + static_cast<std::ptrdiff_t>(n), bytes.begin(),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

}  // namespace

bool looks_like_http_request(std::span<const std::uint8_t> b) {
  std::size_t i = 0;
  while (i < b.size() && i <= kMaxMethod && is_tchar(b[i])) ++i;
  if (i == 0 || i > kMaxMethod || i == b.size() || b[i] != ' ') return false;
  const bool known = known_method(b.first(i));
  const std::size_t target = ++i;
  while (i < b.size() && b[i] > 0x20 && b[i] < 0x7F) ++i;
  if (i == b.size()) return known;  // the segment ends inside the target
  if (i == target || b[i] != ' ') return false;
  const auto rest = b.subspan(i + 1);
  if (!starts_like(rest, kVersion)) return false;
  return rest.size() >= kVersion.size() || known;
}

bool looks_like_http_response(std::span<const std::uint8_t> b) {
  return b.size() >= 5 && starts_like(b, kVersion);
}

}  // namespace reprise::capture
