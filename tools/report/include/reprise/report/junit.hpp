#pragma once
// JUnit XML for CI systems: one test suite "reprise compare", one test case per --fail-on rule
// (a <failure> with the findings when it fails, the rule's summary as output when it passes).

#include <string>
#include <vector>

#include "reprise/report/comparison.hpp"
#include "reprise/report/gate.hpp"

namespace reprise::report {

std::string render_junit(const Comparison& c, const std::vector<GateResult>& gate);

// XML/HTML text escaping (&, <, >, ", ').
std::string xml_escape(std::string_view text);

}  // namespace reprise::report
