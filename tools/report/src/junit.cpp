#include "reprise/report/junit.hpp"

#include <cstdio>

namespace reprise::report {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
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
