#pragma once
// What `reprise replay` prints: the plan of a dry run, the start line, the live status line
// (stderr, once a second, on a terminal) and the closing summary (stderr, and JSON on request).

#include <string>

#include "reprise/replay/dry_run.hpp"
#include "reprise/replay/replayer.hpp"

namespace reprise::tools {

void print_dry_run(const replay::DryRunReport& report, const replay::Plan& plan,
                   const replay::Detection& detection);
void print_start(const replay::ReplayOptions& options, const replay::Detection& detection);
void print_status_line(const replay::LiveStatus& status);
// The summary on stderr, and --stats-json when given (its write error returned).
Status print_summary(const replay::ReplaySummary& summary, const replay::ReplayOptions& options,
                   const std::string& stats_json);

}  // namespace reprise::tools
