#include "reprise/report/run_set.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "reprise/format/reader.hpp"
#include "reprise/report/error.hpp"

namespace reprise::report {
namespace {

namespace fb = format::fb;

std::string str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }
std::string_view view(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

// The plan without its shard: what every shard of one test has in common.
std::string plan_of_test(const std::string& plan) {
  auto j = nlohmann::json::parse(plan, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return plan;
  j.erase("shard");
  return j.dump();
}

}  // namespace

Result<RunSet> RunSet::open(const std::vector<std::string>& paths, std::string role) {
  RunSet set;
  set.role_ = std::move(role);
  if (paths.empty()) return fail(errc::input_error, set.role_, "no run files given");
  for (const auto& path : paths) {
    // The headers are read first (do the shards belong together?), the outcomes after: a pipe
    // cannot be read twice.
    if (path == "-")
      return fail(errc::input_error, "-", "run files are read twice, standard input cannot be; "
                                          "give the run file's path (replay -o FILE)");
    format::ReaderOptions ro;
    auto reader = format::Reader::open(path, ro);
    if (!reader) return reader.take_error();
    const auto& h = (*reader)->header();
    if ((*reader)->kind() != format::FileKind::Run || h.run() == nullptr)
      return fail(errc::input_error, path,
                  "this is a trace, not a run; report and compare read the .rrun files "
                  "`reprise replay -o` writes");
    RunFileInfo f;
    f.path = path;
    f.trace_digest = str(h.run()->trace_digest());
    f.trace_path = str(h.run()->trace_path());
    f.target = str(h.run()->target());
    f.plan = str(h.run()->plan());
    f.shard_index = h.run()->shard_index();
    f.shard_count = std::max<std::uint32_t>(1, h.run()->shard_count());
    f.epoch_unix_ns = h.epoch_unix_ns();
    f.format_version = std::to_string(h.format_major()) + "." + std::to_string(h.format_minor());
    if (const auto* footer = (*reader)->footer(); footer != nullptr)
      f.end_reason = str(footer->end_reason());
    set.files_.push_back(std::move(f));
  }

  const auto& first = set.files_.front();
  std::set<std::uint32_t> shards;
  for (const auto& f : set.files_) {
    if (f.trace_digest != first.trace_digest)
      return fail(errc::mismatched_runs, f.path,
                  "replayed a different trace (" + f.trace_path + ", " + f.trace_digest + ") than " +
                      first.path + " (" + first.trace_path + ", " + first.trace_digest +
                      "); the runs of one " + set.role_ + " must be shards of one test");
    if (&f != &first && f.shard_count == 1 && first.shard_count == 1)
      return fail(errc::mismatched_runs, f.path,
                  "and " + first.path + " are two whole runs, not shards of one test: several runs of one " +
                      set.role_ + " must be its shards (`reprise compare` compares two runs)");
    if (&f != &first && f.shard_count != first.shard_count)
      return fail(errc::mismatched_runs, f.path,
                  "is shard " + std::to_string(f.shard_index) + "/" + std::to_string(f.shard_count) +
                      " but " + first.path + " is shard " + std::to_string(first.shard_index) + "/" +
                      std::to_string(first.shard_count) +
                      "; several runs of one " + set.role_ + " must be the shards of one test");
    if (plan_of_test(f.plan) != plan_of_test(first.plan))
      return fail(errc::mismatched_runs, f.path,
                  "was replayed with a different plan than " + first.path +
                      " (compare `reprise trace info` of both); shards of one test share one plan");
    if (!shards.insert(f.shard_index).second)
      return fail(errc::mismatched_runs, f.path,
                  "shard " + std::to_string(f.shard_index) + " is given twice");
  }
  if (first.shard_count > 1 && shards.size() < first.shard_count)
    set.warnings_.push_back(set.role_ + ": " + std::to_string(shards.size()) + " of " +
                            std::to_string(first.shard_count) +
                            " shards given; the totals are those of the shards at hand");
  if (set.files_.size() > 1 && first.target != set.files_.back().target)
    set.warnings_.push_back(set.role_ + ": shards replayed against different targets");
  set.epoch_unix_ns_ = first.epoch_unix_ns;
  for (const auto& f : set.files_) set.epoch_unix_ns_ = std::min(set.epoch_unix_ns_, f.epoch_unix_ns);
  return set;
}

std::string RunSet::end_reason() const {
  for (const auto& f : files_) {
    if (f.end_reason.empty()) return "no footer in " + f.path + ": the replay did not finish writing";
    // "completed" and "completed (duration reached)" both ended as planned.
    if (f.end_reason.rfind("completed", 0) != 0) return f.end_reason;
  }
  return files_.size() == 1 ? files_.front().end_reason : "completed";
}

Status RunSet::for_each(const std::function<void(const OutcomeView&)>& fn) {
  for (std::size_t i = 0; i < files_.size(); ++i) {
    auto& f = files_[i];
    f.outcomes = 0;
    f.interval_outcomes = 0;
    format::ReaderOptions ro;
    ro.on_interval = [&f](const fb::Interval& iv) { f.interval_outcomes += iv.outcomes(); };
    auto reader = format::Reader::open(f.path, ro);
    if (!reader) return reader.take_error();
    const std::int64_t shift = f.epoch_unix_ns - epoch_unix_ns_;
    format::Record rec;
    OutcomeView v;
    v.file = i;
    while (true) {
      auto more = (*reader)->next(rec);
      if (!more) return more.take_error();
      if (!*more) break;
      const fb::Outcome* o = rec.outcome();
      v.record = o;
      v.exchange_id = o->exchange_id();
      v.clone = o->clone();
      v.iteration = o->iteration();
      v.session_id = o->session_id();
      v.facts.intended_ns = o->intended_ns() + shift;
      // 0 means "never" for these two; it stays 0.
      v.facts.bytes_sent = o->bytes_sent();
      v.facts.sent_ns = o->sent_ns() == 0 && o->bytes_sent() == 0 ? 0 : o->sent_ns() + shift;
      v.facts.first_byte_ns = o->first_byte_ns() == 0 ? 0 : o->first_byte_ns() + shift;
      v.facts.done_ns = o->done_ns() + shift;
      v.facts.status = o->status();
      v.facts.error = static_cast<replay::OutcomeError>(
          std::min<std::size_t>(static_cast<std::size_t>(o->error()), replay::kOutcomeErrorKinds - 1));
      v.facts.bytes_received = o->bytes_received();
      v.response_digest = o->response_digest();
      v.method = view(o->method());
      v.target = view(o->target());
      v.body = o->response_body() == nullptr
                   ? std::span<const std::uint8_t>()
                   : std::span<const std::uint8_t>(o->response_body()->data(), o->response_body()->size());
      ++f.outcomes;
      fn(v);
    }
    if (f.interval_outcomes != 0 && f.interval_outcomes != f.outcomes)
      warnings_.push_back(f.path + ": the interval frames count " + std::to_string(f.interval_outcomes) +
                          " outcomes, the records " + std::to_string(f.outcomes) +
                          " (a damaged or unfinished file); the report uses the records");
  }
  return {};
}

}  // namespace reprise::report
