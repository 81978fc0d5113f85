#include "reprise/replay/plan.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "reprise/replay/error.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::replay {

Result<Stage> parse_stage(std::string_view text) {
  const auto colon = text.find(':');
  const std::string given(text);
  if (colon == std::string_view::npos)
    return fail(errc::bad_plan, "--stage",
                "'" + given + "': expected DURATION:LEVEL%, e.g. --stage 30s:10% --stage 1m:100%");
  const auto duration = parse_duration_ns(text.substr(0, colon));
  if (!duration)
    return fail(errc::bad_plan, "--stage",
                "'" + given + "': the duration must look like 30s, 2m, 500ms");
  const auto level = parse_percent(text.substr(colon + 1));
  if (!level)
    return fail(errc::bad_plan, "--stage",
                "'" + given + "': the level must be a percentage such as 50% or 300%");
  return Stage{*duration, *level};
}

double Plan::peak_level() const {
  if (stages.empty()) return 1.0;
  double peak = 0;
  for (const auto& s : stages) peak = std::max(peak, s.level);
  return peak;
}

std::int64_t Plan::stages_ns() const {
  std::int64_t total = 0;
  for (const auto& s : stages) total += s.duration_ns;
  return total;
}

std::uint32_t Plan::clones() const {
  const double n = std::ceil(multiplier * peak_level() - 1e-12);
  return static_cast<std::uint32_t>(std::max(1.0, n));
}

Status Plan::validate() const {
  auto bad = [](const char* flag, std::string what) {
    return Status(fail(errc::bad_plan, flag, std::move(what)));
  };
  // The lower bounds keep schedule times and intervals inside 64-bit nanoseconds.
  if (!(speed >= 0.001) || speed > 1e6) return bad("--speed", "must be at least 0.001 and at most 1000000");
  if (pacing == Pacing::Rate && !(rate_per_s >= 0.001 && rate_per_s <= 1e9))
    return bad("--rate", "must be at least 0.001/s and at most 1000000000/s (or 'max')");
  if (!(multiplier > 0) || multiplier > 1000)
    return bad("--multiplier", "must be above 0 and at most 1000");
  if (clone_spread_ns <= 0) return bad("--clone-spread", "must be above 0");
  if (multiplier * peak_level() > 1000)
    return bad("--stage", "multiplier x peak stage level is past 1000 clones per session");
  for (const auto& s : stages)
    if (s.level < 0 || s.duration_ns < 0) return bad("--stage", "levels and durations are >= 0");
  if (pacing == Pacing::Max && !stages.empty())
    return bad("--stage", "stages scale the arrival rate, and --rate max has none; use --rate N/s");
  if (!stages.empty() && stages_ns() == 0)
    return bad("--stage", "the stages last 0 s in total; give at least one a duration");
  if (loop && stages.empty() && duration_ns == 0)
    return bad("--loop", "needs --stage or --duration to know when to stop");
  if (duration_ns < 0) return bad("--duration", "must be >= 0");
  if (shard_count == 0 || shard_index >= shard_count)
    return bad("--shard", "must be i/N with 0 <= i < N");
  if (max_inflight == 0) return bad("--max-inflight", "must be at least 1");
  if (max_connections == 0) return bad("--max-connections", "must be at least 1");
  if (max_rate_per_s != 0 && !(max_rate_per_s >= 0.001 && max_rate_per_s <= 1e9))
    return bad("--max-rate", "must be 0 (no limit) or from 0.001/s to 1000000000/s");
  if (max_lateness_ns <= 0) return bad("--max-lateness", "must be above 0");
  if (connect_timeout_ns <= 0) return bad("--connect-timeout", "must be above 0");
  if (request_timeout_ns <= 0) return bad("--request-timeout", "must be above 0");
  if (max_sessions == 0) return bad("--max-sessions", "must be at least 1");
  if (correlation.timeout_ns <= 0) return bad("--correlation-timeout", "must be above 0");
  if (correlation.enabled && pacing != Pacing::Max && correlation.timeout_ns >= max_lateness_ns)
    return bad("--correlation-timeout", "must be below --max-lateness: a request waiting for a value "
                                        "would be shed before its wait ends, never sent flagged");
  return {};
}

std::string Plan::to_json() const {
  nlohmann::json j;
  j["pacing"] = pacing == Pacing::Recorded ? "recorded" : pacing == Pacing::Rate ? "rate" : "max";
  j["speed"] = speed;
  if (pacing == Pacing::Rate) j["rate_per_s"] = rate_per_s;
  j["multiplier"] = multiplier;
  j["clone_spread_ns"] = clone_spread_ns;
  j["seed"] = seed;
  auto& st = j["stages"] = nlohmann::json::array();
  for (const auto& s : stages) st.push_back({{"duration_ns", s.duration_ns}, {"level", s.level}});
  j["loop"] = loop;
  j["duration_ns"] = duration_ns;
  j["shard"] = std::to_string(shard_index) + "/" + std::to_string(shard_count);
  j["max_inflight"] = max_inflight;
  j["max_connections"] = max_connections;
  j["max_rate_per_s"] = max_rate_per_s;
  j["max_lateness_ns"] = max_lateness_ns;
  j["connections"] = connections == ConnectionMode::Pool ? "pool" : "per-recorded";
  j["connect_timeout_ns"] = connect_timeout_ns;
  j["request_timeout_ns"] = request_timeout_ns;
  j["idle_timeout_ns"] = idle_timeout_ns;
  j["session_order"] = strict_session_order ? "strict" : "sent";
  j["rewrites"] = rewrites.describe();
  auto& c = j["correlation"];
  c["enabled"] = correlation.enabled;
  if (correlation.enabled) {
    c["detect"] = correlation.detect;
    c["timeout_ns"] = correlation.timeout_ns;
    auto& rules = c["rules"] = nlohmann::json::array();
    for (const auto& r : correlation.rules) rules.push_back({{"rule", r.text}, {"automatic", r.automatic}});
    auto& clones = c["clone_rewrites"] = nlohmann::json::array();
    for (const auto& r : correlation.clone_rewrites) clones.push_back(r.text);
  }
  return json_text(j);  // flags need not be UTF-8
}

}  // namespace reprise::replay
