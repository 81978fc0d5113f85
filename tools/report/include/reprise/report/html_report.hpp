#pragma once
// Self-contained HTML pages: one file, inline CSS and SVG, no script, no network access, so a
// report can be attached to a CI job or mailed and opens anywhere.
//
// render_report_html: summary, latency percentile plot (corrected and uncorrected), rate /
// errors / latency over time, status classes and errors, per-route table.
// render_compare_html: the gate verdict, base and candidate side by side, the same plots
// overlaid, per-route deltas, status changes, field differences (noise marked as such).

#include <string>
#include <vector>

#include "reprise/report/comparison.hpp"
#include "reprise/report/gate.hpp"
#include "reprise/report/report.hpp"

namespace reprise::report {

std::string render_report_html(const Report& r);
std::string render_compare_html(const Comparison& c, const std::vector<GateResult>& gate);

}  // namespace reprise::report
