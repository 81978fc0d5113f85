// `reprise trace verify FILE`: reads every block and record (checksums, FlatBuffers verifier,
// record order, footer agreement). Exit 0 only if the whole file is intact and complete.

#include <cstdio>

#include "cli_support.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/reader.hpp"
#include "trace_commands.hpp"

namespace reprise::tools {
namespace {

int run_verify(const std::string& path) {
  auto opened = format::Reader::open(path);
  if (!opened) return report(opened.error());
  format::Reader& reader = **opened;
  const bool trace = reader.kind() == format::FileKind::Trace;
  format::Record rec;
  std::int64_t last = 0;
  bool first = true;
  for (;;) {
    auto more = reader.next(rec);
    if (!more) return report(more.error());
    if (!*more) break;
    if (trace) {
      const std::int64_t t = rec.exchange()->request_first_ns();
      if (!first && t < last)
        return report(format::fail(format::errc::out_of_order, reader.name(), rec.block_offset,
                                   "exchange " + std::to_string(rec.exchange()->id()) +
                                       " starts before the one before it"));
      last = t;
      first = false;
    }
  }
  const auto& st = reader.stats();
  const auto* footer = reader.footer();
  if (footer == nullptr) {
    const std::string why = reader.footer_problem().empty()
                                ? "no footer: the writer did not finish"
                                : reader.footer_problem();
    return report(format::fail(format::errc::bad_footer, reader.name(),
                               why + " (all " + std::to_string(st.records) + " records in " +
                                   std::to_string(st.blocks) +
                                   " blocks are intact; `reprise trace repair` writes a footer)"));
  }
  const std::uint64_t indexed = footer->blocks() ? footer->blocks()->size() : 0;
  if (footer->records() != st.records || indexed != st.blocks)
    return report(format::fail(format::errc::bad_footer, reader.name(),
                               "the footer lists " + std::to_string(footer->records()) +
                                   " records in " + std::to_string(indexed) + " blocks, the file holds " +
                                   std::to_string(st.records) + " in " + std::to_string(st.blocks)));
  // Interval frames (a run file's per-second statistics) are checked too: a damaged one is
  // skipped by readers, so report would count fewer outcomes per second than the records hold.
  if (st.damaged_intervals > 0)
    return report(format::fail(format::errc::checksum_mismatch, reader.name(),
                               std::to_string(st.damaged_intervals) +
                                   " interval frame(s) are damaged (the records are intact; `reprise "
                                   "trace repair` copies them, without those per-second statistics)"));
  std::printf("%s: ok: %llu records in %llu blocks, footer present\n", reader.name().c_str(),
              static_cast<unsigned long long>(st.records), static_cast<unsigned long long>(st.blocks));
  return kExitOk;
}

}  // namespace

void add_trace_verify(CLI::App& trace, int& exit_code) {
  auto path = std::make_shared<std::string>();
  auto* cmd = trace.add_subcommand("verify", "Check every block and record; exit 0 only if the "
                                             "whole file is intact");
  cmd->add_option("FILE", *path, "trace or run file, - for standard input")->required();
  cmd->callback([path, &exit_code] { exit_code = run_verify(*path); });
}

}  // namespace reprise::tools
