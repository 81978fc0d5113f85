#pragma once
// JUnit XML for CI systems: one test suite "reprise compare", one test case per --fail-on rule
// (a <failure> with the findings when it fails, the rule's summary as output when it passes).

#include <string>
#include <string_view>
#include <vector>

#include "reprise/report/comparison.hpp"
#include "reprise/report/gate.hpp"

namespace reprise::report {

std::string render_junit(const Comparison& c, const std::vector<GateResult>& gate);

// Text for XML 1.0 and HTML, as text or attribute value: &, <, >, " and ' escaped; invalid UTF-8
// (a target captured as Latin-1, a binary body) becomes U+FFFD; control characters other than
// tab and line breaks, which neither language allows, are dropped.
std::string xml_escape(std::string_view text);

}  // namespace reprise::report
