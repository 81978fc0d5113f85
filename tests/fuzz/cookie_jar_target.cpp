// Fuzz target: a clone's cookie jar fed the Set-Cookie values a target answers with, asked for
// the Cookie headers of the requests that follow. What it returns goes into a request header,
// so it must never hold CR, LF or NUL whatever the answers held.
//
// Input: lines; the first byte of a line picks the call and the host, the rest is the text:
//   'S' set(text) · 'R' rewrite(text) · 'H' header_for() (text: the request path) · '+' time
//   passes (a day per byte of text).

#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "targets.hpp"
#include "reprise/replay/cookie_jar.hpp"

namespace reprise::fuzz {
namespace {

bool header_safe(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

int cookie_jar(const std::uint8_t* data, std::size_t size) {
  replay::CookieJarLimits limits;
  limits.max_cookies = 8;
  limits.max_tombstones = 8;
  limits.max_cookie_bytes = 512;
  replay::CookieJar jar(limits);
  static constexpr std::string_view kHosts[] = {"shop.example", "a.shop.example", "127.0.0.1", "[::1]"};
  std::int64_t now = 1'700'000'000'000'000'000;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  for (std::size_t at = 0; at < all.size();) {
    std::size_t end = all.find('\n', at);
    if (end == std::string_view::npos) end = all.size();
    const std::string_view line = all.substr(at, end - at);
    at = end + 1;
    if (line.empty()) continue;
    const char op = line[0];
    const std::string_view host = kHosts[static_cast<unsigned char>(op) >> 6];
    const std::string_view text = line.substr(1);
    switch (op & 0x3F) {
      case 'S' & 0x3F: jar.set(text, host, "/a/b", now); break;
      case 'R' & 0x3F:  // a recorded Cookie field: parsed from a trace, so it is header-safe too
        if (header_safe(text)) FUZZ_CHECK(header_safe(jar.rewrite(text, host, "/a/b", now)));
        break;
      case 'H' & 0x3F: FUZZ_CHECK(header_safe(jar.header_for(host, text, now))); break;
      case '+' & 0x3F: now += static_cast<std::int64_t>(text.size()) * 86'400'000'000'000; break;
      default: break;
    }
    FUZZ_CHECK(jar.size() <= limits.max_cookies);
    for (const auto& c : jar.cookies()) {
      FUZZ_CHECK(!c.name.empty() && header_safe(c.name) && header_safe(c.value));
      FUZZ_CHECK(c.name.size() + c.value.size() <= limits.max_cookie_bytes);
    }
  }
  return 0;
}

}  // namespace reprise::fuzz
