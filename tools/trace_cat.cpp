// `reprise trace cat FILE`: one JSON object per record per line on stdout.
// --from/--to are offsets from the first record; with a footer, blocks outside the window are
// not read at all.

#include <cstdio>
#include <limits>

#include "cli_support.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/reader.hpp"
#include "reprise/format/record_json.hpp"
#include "trace_commands.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::tools {
namespace {

struct CatOptions {
  std::string path;
  bool no_bodies = false;
  std::uint64_t limit = 0;  // 0: no limit
  std::string from, to;
};

int run_cat(const CatOptions& o) {
  std::int64_t from = 0, to = std::numeric_limits<std::int64_t>::max();
  if (!o.from.empty()) {
    auto v = parse_duration_ns(o.from);
    if (!v) throw UsageError("--from: '" + o.from + "' is not a duration (e.g. 30s, 1.5m)");
    from = *v;
  }
  if (!o.to.empty()) {
    auto v = parse_duration_ns(o.to);
    if (!v) throw UsageError("--to: '" + o.to + "' is not a duration (e.g. 30s, 1.5m)");
    to = *v;
  }
  if (to < from) throw UsageError("--to is before --from");

  auto opened = format::Reader::open(o.path);
  if (!opened) return report(opened.error());
  format::Reader& reader = **opened;
  const bool trace = reader.kind() == format::FileKind::Trace;
  const bool windowed = !o.from.empty() || !o.to.empty();
  bool have_base = false;
  std::int64_t base = 0;
  if (const auto* f = reader.footer(); f != nullptr && windowed) {
    base = f->first_ns();
    have_base = true;
    reader.set_window(base + from, to == std::numeric_limits<std::int64_t>::max() ? to : base + to);
  }

  const format::JsonOptions json{.bodies = !o.no_bodies};
  std::uint64_t printed = 0;
  format::Record rec;
  std::string line;
  while (o.limit == 0 || printed < o.limit) {
    auto more = reader.next(rec);
    if (!more) {
      std::fflush(stdout);
      return report(more.error());
    }
    if (!*more) break;
    if (windowed) {
      const std::int64_t t = trace ? rec.exchange()->request_first_ns() : rec.outcome()->intended_ns();
      if (!have_base) {  // no footer: the first record read is the start
        base = t;
        have_base = true;
      }
      if (t < base + from) continue;
      if (to != std::numeric_limits<std::int64_t>::max() && t >= base + to) {
        if (trace) break;  // traces are ordered: nothing later can be in the window
        continue;
      }
    }
    line = json_text(trace ? format::to_json(*rec.exchange(), json) : format::to_json(*rec.outcome(), json));
    line += '\n';
    if (Status st = write_stdout(line); !st) return report(st.error());
    ++printed;
  }
  if (Status st = flush_stdout(); !st) return report(st.error());
  return kExitOk;
}

}  // namespace

void add_trace_cat(CLI::App& trace, int& exit_code) {
  auto opts = std::make_shared<CatOptions>();
  auto* cmd = trace.add_subcommand("cat", "Print records as JSON lines (bodies as text when "
                                          "UTF-8, else base64)");
  cmd->add_option("FILE", opts->path, "trace or run file, - for standard input")->required();
  cmd->add_flag("--no-bodies", opts->no_bodies, "leave bodies out (their sizes stay)");
  cmd->add_option("--limit", opts->limit, "print at most N records")->check(CLI::Range(1.0, 1e18));
  cmd->add_option("--from", opts->from, "start at this offset from the first record (e.g. 30s)");
  cmd->add_option("--to", opts->to, "stop at this offset from the first record (e.g. 1m)");
  cmd->callback([opts, &exit_code] { exit_code = run_cat(*opts); });
}

}  // namespace reprise::tools
