#pragma once
// The flags `reprise capture` and `reprise proxy` share: how exchanges become a trace (sessions,
// filters, sampling, redaction, body limit), so both record the same way.

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "reprise/capture/trace_recorder.hpp"
#include "reprise/format/writer.hpp"

namespace reprise::tools {

struct RecorderFlags {
  std::string session_key, path, sample = "100%", max_body = "1MiB";
  std::vector<std::string> hosts, methods, redact_headers, redact_bodies;
  std::uint64_t seed = 0;
  std::vector<const CLI::Option*> options;  // as add_recorder_flags() declared them
};

void add_recorder_flags(CLI::App& cmd, RecorderFlags& f);
// The first recorder flag given on the command line ("--sample"), or "": for commands that can
// run without recording (proxy --no-record), where such a flag would do nothing.
std::string given_recorder_flag(const RecorderFlags& f);
// Throws UsageError naming the flag on a bad value.
capture::RecorderOptions to_recorder_options(const RecorderFlags& f);
std::size_t max_body_bytes(const RecorderFlags& f);
// How a recording writes its file: a trace (capture, proxy) or a run (replay). A recorder runs
// beside the traffic it records, so it compresses at zstd level 1: on the capture benchmark's
// pcap a third less compression CPU than level 3 (0.36 s against 0.56 s) for a file no larger
// (20.0 MB against 20.9 MB).
format::WriterOptions recording_writer_options();

}  // namespace reprise::tools
