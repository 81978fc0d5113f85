#pragma once
// RunSet: the run files of one test (one file, or the shards of a sharded replay) read as one.
//
// open() reads every file's header (and footer when there is one) and refuses files that are not
// runs, and sets that are not one test: shards must come from the same trace, with the same plan
// apart from the shard, the same shard count, and distinct shard indices. A set with missing
// shards is allowed and says so in warnings(): a report of 3 of 4 shards is still a report.
//
// for_each() streams every outcome of every file (memory: one block at a time). Times are moved
// onto one clock: ns since the earliest epoch of the set, so shards started together line up.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reprise/format/records.hpp"
#include "reprise/replay/interval_stats.hpp"
#include "reprise/result.hpp"

namespace reprise::report {

struct RunFileInfo {
  std::string path;
  std::string trace_digest;  // identity of the trace replayed
  std::string trace_path;
  std::string target;
  std::string plan;          // JSON, as the replay wrote it
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
  std::int64_t epoch_unix_ns = 0;
  std::string end_reason;    // from the footer; "" when the file has none (its writer died)
  std::string format_version;
  std::uint64_t outcomes = 0;           // read by for_each
  std::uint64_t interval_outcomes = 0;  // the same, counted by the interval frames
};

// One outcome as report and compare see it; views are valid during the callback only.
struct OutcomeView {
  std::size_t file = 0;  // index into RunSet::files()
  std::uint64_t exchange_id = 0;
  std::uint32_t clone = 0;
  std::uint32_t iteration = 0;
  std::uint64_t session_id = 0;
  replay::OutcomeFacts facts;  // times on the set's clock
  std::uint64_t response_digest = 0;
  std::string_view method;     // empty in runs older than format 1.2
  std::string_view target;
  std::span<const std::uint8_t> body;  // the kept prefix of the response body (may be empty)
  const format::fb::Outcome* record = nullptr;
};

class RunSet {
 public:
  // `role` names the set in errors ("base", "candidate").
  static Result<RunSet> open(const std::vector<std::string>& paths, std::string role = "run");

  const std::vector<RunFileInfo>& files() const { return files_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& role() const { return role_; }
  std::int64_t epoch_unix_ns() const { return epoch_unix_ns_; }
  // The first reason that is not a completion ("aborted: ...", "interrupted", "no footer in F:
  // the replay did not finish writing"); else the one file's reason, or "completed" for shards.
  std::string end_reason() const;

  // Every outcome of every file, in file order. Errors name the file and byte offset; outcomes
  // before the damage have been delivered.
  Status for_each(const std::function<void(const OutcomeView&)>& fn);

 private:
  std::vector<RunFileInfo> files_;
  std::vector<std::string> warnings_;
  std::string role_;
  std::int64_t epoch_unix_ns_ = 0;
};

}  // namespace reprise::report
