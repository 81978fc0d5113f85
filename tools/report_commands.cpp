// `reprise report` and `reprise compare`: run files → a report, or two sets of run files → what
// changed and a gate verdict. Flags become ReportOptions / CompareOptions; reprise::report does
// the work and renders; this file reads the files in the right order and writes the outputs.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli_support.hpp"
#include "reprise/format/reader.hpp"
#include "reprise/replay/replayer.hpp"
#include "reprise/report/error.hpp"
#include "reprise/report/html_report.hpp"
#include "reprise/report/junit.hpp"
#include "reprise/report/report_json.hpp"
#include "reprise/report/report_text.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::tools {
namespace {

using report::errc;

struct CommonFlags {
  std::vector<std::string> routes;
  std::size_t max_routes = 500;
  std::size_t rows = 30;
  std::string late_after = "10ms";
  std::string html;
  bool json = false;
};

struct ReportFlags : CommonFlags {
  std::vector<std::string> runs;
};

struct CompareFlags : CommonFlags {
  std::vector<std::string> base, candidate, noise, ignore_fields, fail_on;
  std::string trace, junit, max_body_memory = "256MiB", min_change = "2%";
};

report::ReportOptions report_options(const CommonFlags& f) {
  report::ReportOptions o;
  for (const auto& r : f.routes) {
    auto rule = report::parse_route_rule(r);
    if (!rule) throw UsageError(rule.error().message());
    o.routes.push_back(std::move(*rule));
  }
  o.max_routes = f.max_routes;
  const auto late = parse_duration_ns(f.late_after);
  if (!late || *late < 0) throw UsageError("--late-after: '" + f.late_after + "' is not a duration (e.g. 10ms)");
  o.late_threshold_ns = *late;
  return o;
}

// Reports may quote response values (compare examples): created 0600 like traces and runs.
Status write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return report::fail(errc::output_error, path, std::strerror(errno));
  ::fchmod(fd, 0600);  // a file that existed keeps its mode otherwise
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      return report::fail(errc::output_error, path, std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return report::fail(errc::output_error, path, std::strerror(errno));
  return {};
}

Status print(const std::string& text) {
  if (Status st = write_stdout(text); !st) return st;
  return flush_stdout();
}

int run_report_command(const ReportFlags& f) {
  const auto options = report_options(f);
  auto set = report::RunSet::open(f.runs, "report");
  if (!set) return report(set.error());
  auto r = report::build_report(*set, options);
  if (!r) return report(r.error());
  if (!f.html.empty())
    if (Status st = write_file(f.html, report::render_report_html(*r)); !st) return report(st.error());
  const std::string out = f.json ? json_text(report::to_json(*r), 2) + "\n" : report::render_report_text(*r, f.rows);
  if (Status st = print(out); !st) return report(st.error());
  return kExitOk;
}

// The responses recorded in the trace, paired with the base's first clone: a third sample.
Status add_trace_noise(const std::string& path, const report::RunSet& base, report::Comparer& comparer) {
  auto reader = format::Reader::open(path);
  if (!reader) return reader.take_error();
  if ((*reader)->kind() != format::FileKind::Trace)
    return report::fail(errc::input_error, path, "--trace takes the trace (.rtrace) the runs replayed");
  const std::string identity = replay::trace_identity((*reader)->header());
  if (identity != base.files().front().trace_digest)
    return report::fail(errc::mismatched_runs, path,
                        "is not the trace the base replayed (" + base.files().front().trace_path + ")");
  format::Record rec;
  while (true) {
    auto more = (*reader)->next(rec);
    if (!more) return more.take_error();
    if (!*more) break;
    const auto* e = rec.exchange();
    if (e->response() == nullptr || e->response()->body() == nullptr) continue;
    if ((e->flags() & format::fb::ExchangeFlags::ResponseBodyTruncated) != format::fb::ExchangeFlags::NONE) continue;
    comparer.add_recorded(e->id(), e->response()->status(),
                          {e->response()->body()->data(), e->response()->body()->size()});
  }
  comparer.add_noise_source("responses recorded in the trace " + path);
  return {};
}

int run_compare_command(const CompareFlags& f) {
  report::CompareOptions o;
  o.report = report_options(f);
  for (const auto& p : f.ignore_fields) {
    if (!report::valid_field_path(p))
      throw UsageError("--ignore-field: '" + p + "' is not a field path ($.a.b, $.items[*].id, (body))");
    o.ignore_fields.push_back(p);
  }
  const auto memory = parse_size(f.max_body_memory);
  if (!memory) throw UsageError("--max-body-memory: '" + f.max_body_memory + "' is not a size (e.g. 256MiB)");
  o.max_body_memory = static_cast<std::size_t>(*memory);
  const auto min_change = parse_percent(f.min_change);
  if (!min_change || *min_change < 0)
    throw UsageError("--min-change: '" + f.min_change + "' is not a share (e.g. 2%, 0%)");
  o.latency.min_change = *min_change;
  std::vector<report::GateRule> rules;
  for (const auto& text : f.fail_on) {
    auto rule = report::parse_gate_rule(text);
    if (!rule) throw UsageError(rule.error().message());
    rules.push_back(std::move(*rule));
  }

  auto base = report::RunSet::open(f.base, "base");
  if (!base) return report(base.error());
  auto candidate = report::RunSet::open(f.candidate, "candidate");
  if (!candidate) return report(candidate.error());
  const auto& b0 = base->files().front();
  const auto& c0 = candidate->files().front();
  if (b0.trace_digest != c0.trace_digest)
    return report(report::fail(errc::mismatched_runs, c0.path,
                               "replayed trace " + c0.trace_path + " (" + c0.trace_digest + ") but the base " + b0.path +
                                   " replayed " + b0.trace_path + " (" + b0.trace_digest +
                                   "); compare runs of the same trace"));

  report::Comparer comparer(o);
  if (Status st = base->for_each([&](const report::OutcomeView& v) { comparer.add_base(v); }); !st)
    return report(st.error());
  comparer.end_base();
  if (!f.noise.empty()) {
    auto noise = report::RunSet::open(f.noise, "noise");
    if (!noise) return report(noise.error());
    if (noise->files().front().trace_digest != b0.trace_digest)
      return report(report::fail(errc::mismatched_runs, noise->files().front().path,
                                 "--noise runs must replay the base's trace (" + b0.trace_path + ")"));
    if (Status st = noise->for_each([&](const report::OutcomeView& v) { comparer.add_noise(v); }); !st)
      return report(st.error());
    comparer.add_noise_source("second baseline " + noise->files().front().path);
  }
  if (!f.trace.empty())
    if (Status st = add_trace_noise(f.trace, *base, comparer); !st) return report(st.error());
  if (Status st = candidate->for_each([&](const report::OutcomeView& v) { comparer.add_candidate(v); }); !st)
    return report(st.error());

  const auto c = comparer.finish(*base, *candidate);
  const auto gate = report::evaluate_gate(rules, c);
  if (!f.html.empty())
    if (Status st = write_file(f.html, report::render_compare_html(c, gate)); !st) return report(st.error());
  if (!f.junit.empty())
    if (Status st = write_file(f.junit, report::render_junit(c, gate)); !st) return report(st.error());
  const std::string out = f.json ? json_text(report::to_json(c, gate), 2) + "\n" : report::render_compare_text(c, gate, f.rows);
  if (Status st = print(out); !st) return report(st.error());
  // A side with no outcomes (a replay killed after its header) compared nothing: bad input,
  // whatever the gate says — after the pages and output above, which show why.
  if (Status st = report::check_compared(c); !st) return report(st.error());
  for (const auto& g : gate)
    if (g.failed) return kExitCheckFailed;
  return kExitOk;
}

void add_common(CLI::App* cmd, CommonFlags& f) {
  cmd->add_option("--route", f.routes, "name routes: 'REGEX=>NAME' against \"METHOD /path\" (repeatable, first match wins)");
  cmd->add_option("--max-routes", f.max_routes, "routes listed at most; the rest are \"(other routes)\" (default 500)");
  cmd->add_option("--late-after", f.late_after, "a request sent later than this after its time is late (default 10ms)");
  cmd->add_option("--rows", f.rows, "routes shown in the text output (default 30)");
  cmd->add_option("--html", f.html, "also write a self-contained HTML page here");
  cmd->add_flag("--json", f.json, "print JSON on standard output instead of text");
}

}  // namespace

void add_report_commands(CLI::App& app, int& exit_code) {
  auto rf = std::make_shared<ReportFlags>();
  auto* rep = app.add_subcommand("report", "Summarise a run (or the shards of one test): latency, "
                                           "errors, routes, timeline; text, JSON or HTML");
  rep->add_option("runs", rf->runs, "run files (.rrun); several = shards of one test, merged")->required();
  add_common(rep, *rf);
  rep->callback([rf, &exit_code] { exit_code = run_report_command(*rf); });

  auto cf = std::make_shared<CompareFlags>();
  auto* cmp = app.add_subcommand("compare", "Compare a candidate release's runs with a base: latency "
                                            "per route, status, error and body changes, noise; CI gate");
  cmp->add_option("base", cf->base, "base run files (shards of one test)")->required();
  cmp->add_option("--candidate", cf->candidate, "candidate run files (shards of one test)")->required()->expected(1, -1);
  cmp->add_option("--noise", cf->noise, "a second base run of the same release: what differs between the two is noise")
      ->expected(1, -1);
  cmp->add_option("--trace", cf->trace, "the trace replayed: its recorded responses are a further noise sample");
  cmp->add_option("--ignore-field", cf->ignore_fields, "JSON field path to leave out, e.g. $.meta.request_id (repeatable)");
  cmp->add_option("--fail-on", cf->fail_on, "gate rule: p95>+10%, p99>+20ms, errors>+0.5pp, status_changes>0, "
                                            "error_changes>0, body_diffs>1% (repeatable; exit 1 if any fails)");
  cmp->add_option("--junit", cf->junit, "also write JUnit XML here (one test case per rule)");
  cmp->add_option("--min-change", cf->min_change, "latency changes below this are not called, however significant (default 2%)");
  cmp->add_option("--max-body-memory", cf->max_body_memory, "memory for base response bodies (default 256MiB)");
  add_common(cmp, *cf);
  cmp->callback([cf, &exit_code] { exit_code = run_compare_command(*cf); });
}

}  // namespace reprise::tools
