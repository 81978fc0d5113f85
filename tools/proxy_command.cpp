// `reprise proxy`: a recording reverse proxy in front of one upstream → trace.

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "recorder_flags.hpp"
#include "reprise/capture/recording_proxy.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::tools {
namespace {

struct ProxyFlags {
  std::string listen = "127.0.0.1:8080", upstream, output, stats_json;
  std::string request_timeout = "30s", response_timeout = "60s", connect_timeout = "5s",
              idle_timeout = "60s", drain_timeout = "10s", max_header = "64KiB";
  std::string tls_cert, tls_key, upstream_ca;
  unsigned threads = 0;
  std::size_t max_connections = 4096, max_upstream_connections = 256;
  bool x_forwarded_for = false, insecure_upstream = false, no_record = false;
  RecorderFlags recorder;
};

std::atomic<int> g_signals{0};
extern "C" void on_proxy_signal(int) { g_signals.fetch_add(1); }

std::int64_t duration_ns(const std::string& flag, const std::string& value) {
  const auto ns = parse_duration_ns(value);
  if (!ns || *ns <= 0) throw UsageError(flag + ": '" + value + "' is not a duration (e.g. 500ms, 30s)");
  return *ns;
}

capture::ProxyOptions to_options(const ProxyFlags& f) {
  capture::ProxyOptions o;
  o.listen = f.listen;
  o.upstream = f.upstream;
  o.threads = f.threads;
  if (f.max_connections == 0) throw UsageError("--max-connections: at least 1");
  if (f.max_upstream_connections == 0) throw UsageError("--max-upstream-connections: at least 1");
  o.max_client_connections = f.max_connections;
  o.max_upstream_connections = f.max_upstream_connections;
  // At most 1MiB: every connection may buffer a head that large, and a trace record (64 MiB)
  // holds both heads beside both bodies (--max-body, at most 16MiB).
  const auto header = parse_size(f.max_header);
  if (!header || *header < 1024 || *header > (std::size_t{1} << 20))
    throw UsageError("--max-header: '" + f.max_header + "' (a size from 1KiB to 1MiB)");
  o.header_limit = *header;
  o.max_body = max_body_bytes(f.recorder);
  o.request_timeout_ns = duration_ns("--request-timeout", f.request_timeout);
  o.response_timeout_ns = duration_ns("--response-timeout", f.response_timeout);
  o.connect_timeout_ns = duration_ns("--connect-timeout", f.connect_timeout);
  o.idle_timeout_ns = duration_ns("--idle-timeout", f.idle_timeout);
  o.drain_timeout_ns = duration_ns("--drain-timeout", f.drain_timeout);
  o.x_forwarded_for = f.x_forwarded_for;
  o.tls_cert = f.tls_cert;
  o.tls_key = f.tls_key;
  o.upstream_ca = f.upstream_ca;
  o.insecure_upstream = f.insecure_upstream;
  o.record = !f.no_record;
  o.recorder = to_recorder_options(f.recorder);
  return o;
}

// Each client connection holds a descriptor and each upstream connection another, so the
// defaults (4096 + 256) do not fit the usual soft limit of 1024: the soft limit is raised as far
// as the hard one allows. When even that is short the proxy still runs, and says so: past the
// limit, connections wait in the listen backlog while accepting pauses (accept_failures).
void fit_descriptor_limit(std::size_t clients, std::size_t upstreams) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t needed = clients + upstreams + 64;  // + listener, trace, event loops, stdio
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? needed : std::min(needed, lim.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed)
    std::fprintf(stderr,
                 "proxy: warning: the descriptor limit (ulimit -n) is %llu, below the %llu that "
                 "--max-connections and --max-upstream-connections need: past it new connections "
                 "wait (counted as accept_failures)\n",
                 static_cast<unsigned long long>(lim.rlim_cur), static_cast<unsigned long long>(needed));
}

int run_proxy(const ProxyFlags& f) {
  auto options = to_options(f);
  if (!f.no_record && f.output.empty()) throw UsageError("proxy: -o TRACE is required (or --no-record)");
  if (f.no_record && !f.output.empty()) throw UsageError("proxy: --no-record records nothing: drop -o");
  std::unique_ptr<format::Writer> writer;
  if (options.record) {
    format::fb::FileHeaderT header;
    header.kind = format::FileKind::Trace;
    header.epoch_unix_ns = 0;  // the proxy stamps exchanges with unix ns
    header.source = "proxy:" + f.listen + "->" + f.upstream;
    auto opened = format::Writer::open(f.output, std::move(header), recording_writer_options());
    if (!opened) return report(opened.error());
    writer = std::move(*opened);
  }
  fit_descriptor_limit(f.max_connections, f.max_upstream_connections);
  auto proxy = capture::RecordingProxy::start(std::move(options), writer.get());
  if (!proxy) {
    if (writer) (void)writer->close("failed");
    return report(proxy.error());
  }
  std::signal(SIGINT, on_proxy_signal);
  std::signal(SIGTERM, on_proxy_signal);
  std::fprintf(stderr, "proxy: listening on %s%s, forwarding to %s%s; Ctrl-C or SIGTERM stops cleanly\n",
               f.tls_cert.empty() ? "http://" : "https://", (*proxy)->listen_address().c_str(), f.upstream.c_str(),
               writer ? (", recording into " + f.output).c_str() : " (not recording)");
  bool told = false;
  while (g_signals.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // Traffic keeps flowing through a proxy whose trace failed (a full disk): it says so at once.
    if (!told && (*proxy)->stats().unrecorded_after_error > 0) {
      told = true;
      std::fprintf(stderr, "proxy: error: writing %s failed; still forwarding, but no longer recording "
                           "(the error is reported at stop)\n", f.output.c_str());
    }
  }
  std::fprintf(stderr, "proxy: stopping: no new connections, draining requests in flight\n");
  (*proxy)->stop();
  const Status recorded = (*proxy)->finish();
  const Status closed = writer ? writer->close("signal") : Status{};
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  nlohmann::json j;
  auto line = [&](const std::string& name, std::uint64_t value) {
    j[name] = value;
    std::fprintf(stderr, "  %-40s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  };
  std::fprintf(stderr, "proxy: stopped\n");
  (*proxy)->stats().for_each(line);
  if (writer) {
    (*proxy)->recorder_stats().for_each([&](const char* name, std::uint64_t v) { line(std::string("trace.") + name, v); });
    line("trace.sessions", (*proxy)->session_stats().sessions);
  }
  const Status stats = f.stats_json.empty() ? Status{} : write_text_file(f.stats_json, json_text(j, 2) + "\n");
  if (!recorded) return report(recorded.error());
  if (!closed) return report(closed.error());
  if (!stats) return report(stats.error());
  return kExitOk;
}

}  // namespace

void add_proxy_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ProxyFlags>();
  auto* cmd = app.add_subcommand("proxy", "Recording reverse proxy: forward to one upstream and record "
                                          "every exchange into a trace (HTTPS on either side)");
  cmd->add_option("--listen", f->listen, "HOST:PORT to listen on (default 127.0.0.1:8080; loopback unless told)");
  cmd->add_option("--upstream", f->upstream, "http://host:port or https://host:port to forward to")->required();
  cmd->add_option("-o,--output", f->output, "trace to write, - for standard output");
  cmd->add_flag("--no-record", f->no_record, "record nothing: a plain reverse proxy");
  cmd->add_option("--threads", f->threads, "io threads (default: one per core)")->check(CLI::Range(1, 256));
  cmd->add_option("--max-connections", f->max_connections, "client connections at most (default 4096)")
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--max-upstream-connections", f->max_upstream_connections,
                  "upstream connections at most, shared over the threads (default 256)")
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--max-header", f->max_header, "request/response head size limit (default 64KiB, from 1KiB to 1MiB)");
  cmd->add_option("--request-timeout", f->request_timeout, "a request head, whole; a body, each read (default 30s)");
  cmd->add_option("--response-timeout", f->response_timeout, "the upstream's answer, else 504 (default 60s)");
  cmd->add_option("--connect-timeout", f->connect_timeout, "connecting to the upstream, else 502 (default 5s)");
  cmd->add_option("--idle-timeout", f->idle_timeout, "keep-alive connections idle this long close (default 60s)");
  cmd->add_option("--drain-timeout", f->drain_timeout, "on SIGTERM, wait this long for requests in flight (default 10s)");
  cmd->add_flag("--x-forwarded-for", f->x_forwarded_for, "add X-Forwarded-For with the client's address");
  cmd->add_option("--tls-cert", f->tls_cert, "certificate chain (PEM): the listener speaks HTTPS");
  cmd->add_option("--tls-key", f->tls_key, "private key (PEM) for --tls-cert");
  cmd->add_option("--upstream-ca", f->upstream_ca, "CA file to verify an https upstream (default: the system's)");
  cmd->add_flag("--insecure-upstream", f->insecure_upstream, "do not verify the https upstream's certificate");
  cmd->add_option("--stats-json", f->stats_json, "also write every counter to this JSON file");
  add_recorder_flags(*cmd, f->recorder);
  cmd->callback([f, &exit_code] {
    if (const std::string flag = given_recorder_flag(f->recorder); !flag.empty() && f->no_record)
      throw UsageError("proxy: --no-record records nothing, so " + flag + " would do nothing: drop one of them");
    exit_code = run_proxy(*f);
  });
}

}  // namespace reprise::tools
