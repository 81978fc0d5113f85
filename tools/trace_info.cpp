// `reprise trace info FILE`: what a trace or run file holds, from its footer when it has one,
// else by reading it through.

#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "reprise/format/distinct_counter.hpp"
#include "reprise/format/reader.hpp"
#include "reprise/format/record_json.hpp"
#include "trace_commands.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::tools {
namespace {

struct InfoOptions {
  std::string path;
  bool json = false;
};

struct Summary {
  std::uint64_t records = 0, blocks = 0, content = 0, compressed = 0, sessions = 0,
                connections = 0, file_bytes = 0;
  std::int64_t first_ns = 0, last_ns = 0;
  bool saturated = false;
  std::string footer;  // "present", "missing …", "damaged: …"
  std::string end_reason;
};

// Without a footer the numbers come from reading every record. Damage ends the scan: the
// summary then covers what precedes it and `damage` says where reading stopped.
Summary scan(format::Reader& reader, std::optional<Error>& damage) {
  Summary s;
  format::DistinctCounter sessions, connections;
  format::Record rec;
  bool first = true;
  for (;;) {
    auto more = reader.next(rec);
    if (!more) {
      damage = more.take_error();
      break;
    }
    if (!*more) break;
    const auto meta = reader.kind() == format::FileKind::Trace ? format::meta_of(*rec.exchange())
                                                               : format::meta_of(*rec.outcome());
    sessions.add(meta.session_id);
    if (meta.connection_id != 0) connections.add(meta.connection_id);
    s.first_ns = first ? meta.time_ns : std::min(s.first_ns, meta.time_ns);
    s.last_ns = first ? meta.time_ns : std::max(s.last_ns, meta.time_ns);
    first = false;
  }
  const auto& st = reader.stats();
  s.records = st.records;
  s.blocks = st.blocks;
  s.content = st.content_bytes;
  s.compressed = st.compressed_bytes;
  s.sessions = sessions.count();
  s.connections = connections.count();
  s.saturated = sessions.saturated() || connections.saturated();
  return s;
}

int run_info(const InfoOptions& o) {
  auto opened = format::Reader::open(o.path);
  if (!opened) return report(opened.error());
  format::Reader& reader = **opened;
  Summary s;
  std::optional<Error> damage;
  if (const auto* f = reader.footer(); f != nullptr) {
    s.records = f->records();
    s.blocks = f->blocks() ? f->blocks()->size() : 0;
    s.content = f->content_bytes();
    s.compressed = f->compressed_bytes();
    s.sessions = f->sessions();
    s.connections = f->connections();
    s.saturated = f->distinct_saturated();
    s.first_ns = f->first_ns();
    s.last_ns = f->last_ns();
    s.end_reason = f->end_reason() ? f->end_reason()->str() : "";
    s.footer = "present";
  } else {
    s = scan(reader, damage);
    if (damage) {
      s.footer = "missing: reading stopped at byte " + std::to_string(damage->offset) +
                 "; the numbers cover what precedes it";
    } else if (const auto* late = reader.footer(); late != nullptr) {  // a pipe: the footer came last
      s.footer = "present";
      s.end_reason = late->end_reason() ? late->end_reason()->str() : "";
    } else if (!reader.footer_problem().empty()) {
      s.footer = "damaged (" + reader.footer_problem() + "); counted by reading every block";
    } else {
      s.footer = "missing (the writer did not finish); counted by reading every block — "
                 "`reprise trace repair` writes one";
    }
  }
  const auto& h = reader.header();
  const double ratio = s.compressed ? static_cast<double>(s.content) / static_cast<double>(s.compressed) : 0;
  const std::string at_least = s.saturated ? "at least " : "";

  if (o.json) {
    nlohmann::json j = format::to_json(h);
    j["file"] = reader.name();
    j["records"] = s.records;
    j["sessions"] = s.sessions;
    j["connections"] = s.connections;
    j["distinct_counts_are_lower_bounds"] = s.saturated;
    j["first_ns"] = s.first_ns;
    j["last_ns"] = s.last_ns;
    j["span_ns"] = s.last_ns - s.first_ns;
    j["blocks"] = s.blocks;
    j["content_bytes"] = s.content;
    j["compressed_bytes"] = s.compressed;
    j["ratio"] = ratio;
    j["footer"] = s.footer == "present";
    j["footer_status"] = s.footer;
    if (!s.end_reason.empty()) j["end_reason"] = s.end_reason;
    if (damage) j["damage"] = damage->message();
    std::printf("%s\n", json_text(j).c_str());
    return damage ? report(*damage) : kExitOk;
  }
  const bool trace = h.kind() == format::FileKind::Trace;
  std::printf("file:         %s\n", reader.name().c_str());
  std::printf("kind:         %s (format %u.%u, written by reprise %s)\n", trace ? "trace" : "run",
              h.format_major(), h.format_minor(), h.tool_version() ? h.tool_version()->c_str() : "?");
  std::printf("created:      %s\n", format_utc(h.created_unix_ns()).c_str());
  if (h.source() != nullptr && h.source()->size() > 0)
    std::printf("source:       %s\n", h.source()->c_str());
  if (const auto* r = h.run(); r != nullptr) {
    std::printf("target:       %s\n", r->target() ? r->target()->c_str() : "");
    std::printf("trace:        %s (digest %s)\n", r->trace_path() ? r->trace_path()->c_str() : "",
                r->trace_digest() ? r->trace_digest()->c_str() : "");
  }
  std::printf("records:      %llu %s\n", static_cast<unsigned long long>(s.records),
              trace ? "exchanges" : "outcomes");
  std::printf("sessions:     %s%llu\n", at_least.c_str(), static_cast<unsigned long long>(s.sessions));
  if (trace)
    std::printf("connections:  %s%llu\n", at_least.c_str(), static_cast<unsigned long long>(s.connections));
  if (s.records > 0)
    std::printf("time span:    %s .. %s (%s)\n",
                format_utc(h.epoch_unix_ns() + s.first_ns).c_str(),
                format_utc(h.epoch_unix_ns() + s.last_ns).c_str(),
                format_duration(s.last_ns - s.first_ns).c_str());
  std::printf("blocks:       %llu\n", static_cast<unsigned long long>(s.blocks));
  std::printf("size:         %s compressed, %s content (ratio %.2fx)\n",
              format_size(s.compressed).c_str(), format_size(s.content).c_str(), ratio);
  std::printf("footer:       %s\n", s.footer.c_str());
  if (!s.end_reason.empty()) std::printf("ended:        %s\n", s.end_reason.c_str());
  std::fflush(stdout);
  return damage ? report(*damage) : kExitOk;
}

}  // namespace

void add_trace_info(CLI::App& trace, int& exit_code) {
  auto opts = std::make_shared<InfoOptions>();
  auto* cmd = trace.add_subcommand("info", "What a trace or run file holds (kind, records, "
                                           "sessions, time span, blocks, sizes, footer)");
  cmd->add_option("FILE", opts->path, "trace or run file, - for standard input")->required();
  cmd->add_flag("--json", opts->json, "one JSON object instead of text");
  cmd->callback([opts, &exit_code] { exit_code = run_info(*opts); });
}

}  // namespace reprise::tools
