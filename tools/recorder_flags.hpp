#pragma once
// The flags `reprise capture` and `reprise proxy` share: how exchanges become a trace (sessions,
// filters, sampling, redaction, body limit), so both record the same way.

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "reprise/capture/trace_recorder.hpp"

namespace reprise::tools {

struct RecorderFlags {
  std::string session_key, path, sample = "100%", max_body = "1MiB";
  std::vector<std::string> hosts, methods, redact_headers, redact_bodies;
  std::uint64_t seed = 0;
};

void add_recorder_flags(CLI::App& cmd, RecorderFlags& f);
// Throws UsageError naming the flag on a bad value.
capture::RecorderOptions to_recorder_options(const RecorderFlags& f);
std::size_t max_body_bytes(const RecorderFlags& f);

}  // namespace reprise::tools
