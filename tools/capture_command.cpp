// `reprise capture`: packets (pcap files or a live interface) → trace.

#include <csignal>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "recorder_flags.hpp"
#include "reprise/capture/packet_capture.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::tools {
namespace {

struct CaptureFlags {
  std::vector<std::string> pcaps;
  std::string interface, output, filter, stats_json;
  std::vector<int> ports;
  std::string duration, buffer = "64MiB", idle = "5m";
  std::uint64_t max_exchanges = 0;
  RecorderFlags recorder;
  int snaplen = 262144;
  std::size_t max_flows = 50'000;
};

capture::PacketCapture* g_capture = nullptr;

extern "C" void on_signal(int) {
  if (g_capture != nullptr) g_capture->stop();
}

// The BPF expression for --filter and --port: a repeated --port means any of the ports (one
// capture of a service on 80 and 8080), and --filter narrows that further. Parenthesised, so a
// filter with `or` in it cannot escape the port clause.
std::string with_ports(const std::string& filter, const std::vector<int>& ports) {
  std::string any;
  for (int port : ports) any += (any.empty() ? "tcp port " : " or tcp port ") + std::to_string(port);
  if (any.empty()) return filter;
  return filter.empty() ? "(" + any + ")" : "(" + filter + ") and (" + any + ")";
}

// Converts the flags to options, naming the flag on any bad value.
capture::CaptureOptions to_options(const CaptureFlags& f) {
  capture::CaptureOptions o;
  o.files = f.pcaps;
  o.interface = f.interface;
  o.filter = with_ports(f.filter, f.ports);
  o.live.snaplen = f.snaplen;
  const auto buffer = parse_size(f.buffer);
  if (!buffer || *buffer > (1u << 30)) throw UsageError("--buffer-size: '" + f.buffer + "' (e.g. 64MiB, at most 1GiB)");
  o.live.buffer_bytes = static_cast<int>(*buffer);
  o.http.http.max_body = max_body_bytes(f.recorder);
  const auto idle = parse_duration_ns(f.idle);
  if (!idle || *idle <= 0) throw UsageError("--idle-timeout: '" + f.idle + "' is not a duration");
  o.packets.tcp.idle_timeout_ns = *idle;
  o.packets.tcp.max_flows = f.max_flows;
  if (!f.duration.empty()) {
    const auto d = parse_duration_ns(f.duration);
    if (!d || *d <= 0) throw UsageError("--duration: '" + f.duration + "' is not a duration (e.g. 30s)");
    o.duration_ns = *d;
  }
  o.max_exchanges = f.max_exchanges;
  o.recorder = to_recorder_options(f.recorder);
  return o;
}

// The counters a reader looks for first are always printed; the rest only when they are not
// zero (--stats-json has every one).
bool always_shown(const std::string& name) {
  static const char* kKey[] = {"source.packets", "source.kernel_dropped", "decode.packets",
                               "decode.wire_bytes", "decode.snaplen_truncated",
                               "tcp.flows_opened", "tcp.gaps", "http.exchanges",
                               "http.no_response", "http.parse_errors", "trace.exchanges_written",
                               "trace.sessions"};
  for (const char* k : kKey)
    if (name == k) return true;
  return false;
}

Status print_summary(const capture::CaptureSummary& s, const std::string& stats_json) {
  std::fprintf(stderr, "capture: stopped by %s; %llu exchanges written\n", s.stopped_by.c_str(),
               static_cast<unsigned long long>(s.recorder.written));
  nlohmann::json j;
  std::size_t hidden = 0;
  s.for_each([&](const std::string& name, std::uint64_t value) {
    j[name] = value;
    if (value == 0 && !always_shown(name)) {
      ++hidden;
      return;
    }
    std::fprintf(stderr, "  %-44s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  });
  std::fprintf(stderr, "  (%zu other counters are zero%s)\n", hidden,
               stats_json.empty() ? "; --stats-json FILE writes all" : "");
  if (s.packets.decode.snaplen_truncated > 0)
    std::fprintf(stderr,
                 "capture: warning: %llu packets were cut by the capture's snaplen; their "
                 "exchanges are flagged snaplen_truncated, their bodies incomplete (capture with -s 0)\n",
                 static_cast<unsigned long long>(s.packets.decode.snaplen_truncated));
  if (s.source.kernel_dropped > 0)
    std::fprintf(stderr, "capture: warning: the kernel dropped %llu packets (raise --buffer-size)\n",
                 static_cast<unsigned long long>(s.source.kernel_dropped));
  if (stats_json.empty()) return {};
  j["stopped_by"] = s.stopped_by;
  return write_text_file(stats_json, json_text(j, 2) + "\n");
}

int run_capture(const CaptureFlags& f) {
  auto options = to_options(f);
  format::fb::FileHeaderT header;
  header.kind = format::FileKind::Trace;
  header.epoch_unix_ns = 0;  // packet timestamps are unix ns already
  if (!f.interface.empty()) {
    header.source = "live:" + f.interface;
  } else {
    header.source = "pcap:";
    for (std::size_t i = 0; i < f.pcaps.size(); ++i) header.source += (i ? "," : "") + f.pcaps[i];
  }
  auto writer = format::Writer::open(f.output, std::move(header), recording_writer_options());
  if (!writer) return report(writer.error());
  auto capture = capture::PacketCapture::open(std::move(options), **writer);
  if (!capture) {
    (void)(*writer)->close("failed");
    return report(capture.error());
  }
  g_capture = capture->get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (!f.interface.empty())
    std::fprintf(stderr, "capture: listening on %s; Ctrl-C or SIGTERM ends the capture cleanly\n",
                 f.interface.c_str());
  auto summary = (*capture)->run();
  g_capture = nullptr;
  // The writer is closed whatever happened: what was written stays readable.
  Status closed = (*writer)->close(summary ? summary->stopped_by : "failed");
  if (!summary) return report(summary.error());
  if (!closed) return report(closed.error());
  summary->writer = (*writer)->stats();
  // The trace is complete either way; a summary that could not be written is still exit 4.
  if (Status st = print_summary(*summary, f.stats_json); !st) return report(st.error());
  return kExitOk;
}

}  // namespace

void add_capture_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<CaptureFlags>();
  auto* cmd = app.add_subcommand("capture", "Record HTTP/1.x exchanges from pcap files or a live "
                                            "interface into a trace");
  auto* pcap = cmd->add_option("--pcap", f->pcaps, "pcap/pcapng files (several are merged in time order; - for standard input)");
  auto* live = cmd->add_option("-i,--interface", f->interface, "capture live from this interface");
  pcap->excludes(live);
  cmd->add_option("-o,--output", f->output, "trace to write, - for standard output")->required();
  cmd->add_option("--filter", f->filter, "BPF filter expression (e.g. 'tcp port 8080')");
  cmd->add_option("--port", f->ports, "only TCP traffic on this port (repeat: any of the ports)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("-s,--snaplen", f->snaplen, "live: bytes kept per packet (default 262144)")
      ->check(CLI::Range(64, 262144));
  cmd->add_option("--buffer-size", f->buffer, "live: kernel buffer (default 64MiB)");
  cmd->add_option("--duration", f->duration, "stop after this long (live: wall time; files: packet time)");
  cmd->add_option("--max-exchanges", f->max_exchanges, "stop after this many exchanges")
      ->check(CLI::Range(1.0, 1e18));
  add_recorder_flags(*cmd, f->recorder);
  cmd->add_option("--max-flows", f->max_flows, "TCP connections tracked at once (default 50000, about 4 KiB each; the least recently used goes first)")
      ->check(CLI::Range(1, 100'000'000));
  cmd->add_option("--idle-timeout", f->idle, "close a connection after this long without packets (default 5m)");
  cmd->add_option("--stats-json", f->stats_json, "also write every counter to this JSON file");
  cmd->callback([f, cmd, &exit_code, pcap, live] {
    if (pcap->count() == 0 && live->count() == 0) throw UsageError("capture: give --pcap FILE… or -i IFACE");
    for (const char* flag : {"--snaplen", "--buffer-size"})
      if (pcap->count() > 0 && cmd->count(flag) > 0)
        throw UsageError(std::string("capture: ") + flag + " sets up a live capture; a pcap file was captured already");
    exit_code = run_capture(*f);
  });
}

}  // namespace reprise::tools
