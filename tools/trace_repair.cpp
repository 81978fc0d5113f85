// `reprise trace repair IN OUT`: copies every intact block of a damaged or unfinished file into
// a new file with a proper footer, skipping damaged stretches, and says what was lost.

#include <cstdio>
#include <memory>

#include "cli_support.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/reader.hpp"
#include "reprise/format/writer.hpp"
#include "trace_commands.hpp"
#include "reprise/units.hpp"

namespace reprise::tools {
namespace {

struct RepairOptions {
  std::string in, out;
};

int run_repair(const RepairOptions& o) {
  format::ReaderOptions ro;
  ro.resync = true;
  ro.use_footer = false;  // a damaged file's footer is the last thing to trust
  auto opened = format::Reader::open(o.in, ro);
  if (!opened) return report(opened.error());
  format::Reader& reader = **opened;
  std::unique_ptr<format::fb::FileHeaderT> header(reader.header().UnPack());

  auto created = format::Writer::open(o.out, std::move(*header));
  if (!created) return report(created.error());
  format::Writer& writer = **created;
  const bool trace = reader.kind() == format::FileKind::Trace;

  format::Record rec;
  std::uint64_t out_of_order = 0;
  for (;;) {
    auto more = reader.next(rec);
    if (!more) return report(more.error());  // only I/O errors end a resyncing reader
    if (!*more) break;
    const auto meta = trace ? format::meta_of(*rec.exchange()) : format::meta_of(*rec.outcome());
    Status st = writer.append_record(rec.bytes, meta);
    if (!st && st.error().code == format::make_error_code(format::errc::out_of_order)) {
      ++out_of_order;
      continue;
    }
    if (!st) return report(st.error());
  }
  std::string end_reason = "repaired";
  if (const auto* f = reader.footer(); f != nullptr && f->end_reason() && f->end_reason()->size())
    end_reason = f->end_reason()->str() + " (repaired)";
  if (Status st = writer.close(end_reason); !st) return report(st.error());

  const auto& st = reader.stats();
  std::fprintf(stderr, "reprise: kept %llu records from %llu intact blocks into %s\n",
               static_cast<unsigned long long>(st.records),
               static_cast<unsigned long long>(st.blocks), o.out.c_str());
  for (const auto& d : reader.damage())
    std::fprintf(stderr, "reprise: skipped %s at byte %llu: %s: %s\n",
                 format_size(d.skipped).c_str(), static_cast<unsigned long long>(d.offset),
                 d.error.code.message().c_str(), d.error.detail.c_str());
  if (out_of_order > 0)
    std::fprintf(stderr, "reprise: dropped %llu records that were out of order\n",
                 static_cast<unsigned long long>(out_of_order));
  if (reader.damage().empty() && out_of_order == 0)
    std::fprintf(stderr, "reprise: no damage found; the copy has a fresh footer\n");
  return kExitOk;
}

}  // namespace

void add_trace_repair(CLI::App& trace, int& exit_code) {
  auto opts = std::make_shared<RepairOptions>();
  auto* cmd = trace.add_subcommand("repair", "Copy every intact block of a damaged or unfinished "
                                             "file into a new file with a footer");
  cmd->add_option("IN", opts->in, "damaged trace or run file, - for standard input")->required();
  cmd->add_option("OUT", opts->out, "repaired copy to write, - for standard output")->required();
  cmd->callback([opts, &exit_code] { exit_code = run_repair(*opts); });
}

}  // namespace reprise::tools
