#include "reprise/report/junit.hpp"

#include <cstdint>
#include <cstdio>

namespace reprise::report {

namespace {

// The length of the UTF-8 sequence at s[i] when it is a character XML 1.0 and HTML both carry,
// else 0. Overlong forms, surrogates, values past U+10FFFF, C1 controls and U+FFFE/U+FFFF are
// not such characters; ASCII is handled by the caller.
std::size_t valid_sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, cp = c & 0x1fu;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, cp = c & 0x0fu;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, cp = c & 0x07u;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3fu);
  }
  const bool ok = len == 2   ? cp >= 0xa0
                  : len == 3 ? cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff) && cp < 0xfffe
                             : cp >= 0x10000 && cp <= 0x10ffff;
  return ok ? len : 0;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // Targets and values are bytes as captured (Latin-1, binary): U+FFFD keeps the document
      // well-formed and shows where a byte was.
      const std::size_t len = valid_sequence(text, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab and line breaks are not allowed in XML 1.0 (not even
        // as references) and are parse errors in HTML: dropped.
        if ((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) || c == '\t' || c == '\n' || c == '\r') out += c;
    }
  }
  return out;
}

std::string render_junit(const Comparison& c, const std::vector<GateResult>& gate) {
  std::size_t failures = 0;
  for (const auto& g : gate) failures += g.failed ? 1 : 0;
  std::string body;
  for (const auto& g : gate) {
    body += "    <testcase classname=\"reprise.compare.gate\" name=\"" + xml_escape(g.rule) + "\">\n";
    if (g.failed) {
      std::string text;
      for (const auto& f : g.findings) text += f + "\n";
      body += "      <failure message=\"" + xml_escape(g.rule + " failed: " + g.summary) + "\">" +
              xml_escape(text) + "</failure>\n";
    } else {
      body += "      <system-out>" + xml_escape(g.summary) + "</system-out>\n";
    }
    body += "    </testcase>\n";
  }
  char head[512];
  std::snprintf(head, sizeof head,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<testsuites name=\"reprise compare\" tests=\"%zu\" failures=\"%zu\">\n"
                "  <testsuite name=\"reprise compare\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n"
                "    <properties>\n"
                "      <property name=\"pairs\" value=\"%llu\"/>\n"
                "      <property name=\"status_changes\" value=\"%llu\"/>\n"
                "      <property name=\"bodies_differing\" value=\"%llu\"/>\n"
                "    </properties>\n",
                gate.size(), failures, gate.size(), failures, static_cast<unsigned long long>(c.pairs),
                static_cast<unsigned long long>(c.status_changes),
                static_cast<unsigned long long>(c.bodies_differing));
  return head + body + "  </testsuite>\n</testsuites>\n";
}

}  // namespace reprise::report
