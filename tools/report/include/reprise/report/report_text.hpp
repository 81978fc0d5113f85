#pragma once
// The terminal forms of a report and a comparison: fixed-width tables, durations with units,
// the most telling rows first. Routes past `max_rows` are summarised in one line.

#include <string>
#include <vector>

#include "reprise/report/comparison.hpp"
#include "reprise/report/gate.hpp"
#include "reprise/report/report.hpp"

namespace reprise::report {

std::string render_report_text(const Report& r, std::size_t max_rows = 30);
std::string render_compare_text(const Comparison& c, const std::vector<GateResult>& gate,
                                std::size_t max_rows = 30);

}  // namespace reprise::report
