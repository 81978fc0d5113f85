// JUnit XML: what a CI system parses must be well-formed whatever the run files hold.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "reprise/report/junit.hpp"

using namespace reprise::report;

namespace {

// True when `s` is UTF-8 made only of characters XML 1.0 allows (the production Char):
// tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF, each in its shortest form.
bool xml_chars_only(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3fu);
    }
    const std::uint32_t shortest = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < shortest) return false;
    const bool allowed = cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
                         (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    if (!allowed) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("JUnit XML stays well-formed when a route is not UTF-8 or holds control characters",
          "[report][junit]") {
  // Capture records targets as bytes: Latin-1 é, a C0 control, a surrogate, U+FFFE.
  const std::string route = "GET /caf\xE9/\x01x/\xED\xA0\x80/\xEF\xBF\xBE/cr\xC3\xA8me";
  GateResult g;
  g.rule = "p95>+10%";
  g.failed = true;
  g.summary = "overall and 1 routes checked; largest significant increase +50.0% on " + route;
  g.findings = {route + ": p95 10 ms -> 15 ms (+50.0%)"};
  const Comparison c;
  const std::string xml = render_junit(c, {g});

  CHECK(xml_chars_only(xml));
  CHECK(xml.find("GET /caf\xEF\xBF\xBD/x/") != std::string::npos);  // the byte shown, the control dropped
  CHECK(xml.find("cr\xC3\xA8me") != std::string::npos);             // valid UTF-8 kept as it is
  CHECK(xml.find("<failure message=\"p95&gt;+10% failed: ") != std::string::npos);

  // Every byte value, alone and after a lead byte, in an attribute and in text.
  std::string all;
  for (int b = 0; b < 256; ++b) all += {static_cast<char>(b), static_cast<char>(0xE2), static_cast<char>(b)};
  g.rule = all;
  g.findings = {all};
  CHECK(xml_chars_only(render_junit(c, {g})));
  g.failed = false;
  CHECK(xml_chars_only(render_junit(c, {g})));
}
