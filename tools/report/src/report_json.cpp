#include "reprise/report/report_json.hpp"

namespace reprise::report {
namespace {

using nlohmann::json;

json latency_json(const replay::Histogram& h) {
  json j;
  j["count"] = h.count();
  j["min_ns"] = h.min();
  j["mean_ns"] = h.mean();
  for (const auto& [name, p] : {std::pair{"p50_ns", 50.0}, {"p90_ns", 90.0}, {"p95_ns", 95.0},
                                {"p99_ns", 99.0}, {"p99_9_ns", 99.9}})
    j[name] = h.percentile(p);
  j["max_ns"] = h.max();
  return j;
}

json tally_json(const Tally& t) {
  const auto& s = t.stats;
  json j;
  j["outcomes"] = s.outcomes;
  j["sent"] = s.sent;
  j["failed"] = s.failed;
  j["error_rate"] = s.outcomes ? double(s.failed) / double(s.outcomes) : 0.0;
  j["late"] = t.late;
  j["status_classes"] = {{"none", s.status_classes[0]}, {"1xx", s.status_classes[1]},
                         {"2xx", s.status_classes[2]},  {"3xx", s.status_classes[3]},
                         {"4xx", s.status_classes[4]},  {"5xx", s.status_classes[5]}};
  json errors = json::object();
  for (std::size_t k = 1; k < s.errors.size(); ++k)
    errors[error_name(static_cast<replay::OutcomeError>(k))] = s.errors[k];
  j["errors"] = errors;
  j["bytes_sent"] = s.bytes_sent;
  j["bytes_received"] = s.bytes_received;
  j["latency_corrected"] = latency_json(s.corrected);
  j["latency_service"] = latency_json(s.service);
  j["lateness"] = latency_json(s.lateness);
  return j;
}

json quantile_json(const QuantileDelta& q) {
  return {{"p", q.p},
          {"base_ns", q.base.value},
          {"base_interval_ns", {q.base.low, q.base.high}},
          {"candidate_ns", q.candidate.value},
          {"candidate_interval_ns", {q.candidate.low, q.candidate.high}},
          {"change", q.change},
          {"change_interval", {q.change_low, q.change_high}},
          {"direction", q.direction == 1 ? "slower" : q.direction == -1 ? "faster" : "unchanged"},
          {"n", {q.base.n, q.candidate.n}}};
}

json examples_json(const std::vector<Example>& examples) {
  json out = json::array();
  for (const auto& e : examples)
    out.push_back({{"exchange", e.exchange_id}, {"clone", e.clone}, {"iteration", e.iteration},
                   {"target", e.target}, {"base", e.base}, {"candidate", e.candidate}});
  return out;
}

json row_json(const RouteComparison& r) {
  json j;
  j["route"] = r.route;
  j["pairs"] = r.pairs;
  j["latency"] = json::array();
  for (const auto& q : r.latency) j["latency"].push_back(quantile_json(q));
  j["errors"] = {{"base", r.errors.base_rate()},
                 {"candidate", r.errors.candidate_rate()},
                 {"delta_pp", r.errors.delta_pp()},
                 {"direction", r.errors.direction()}};
  j["status_changes"] = r.status_changes;
  j["bodies_compared"] = r.bodies_compared;
  j["bodies_differing"] = r.bodies_differing;
  return j;
}

}  // namespace

json to_json(const Report& r) {
  json j;
  j["files"] = json::array();
  for (const auto& f : r.files)
    j["files"].push_back({{"path", f.path}, {"shard", std::to_string(f.shard_index) + "/" + std::to_string(f.shard_count)},
                          {"target", f.target}, {"trace", f.trace_path}, {"trace_digest", f.trace_digest},
                          {"end_reason", f.end_reason}, {"outcomes", f.outcomes},
                          {"format_version", f.format_version}});
  j["end_reason"] = r.end_reason;
  j["start_unix_ns"] = r.epoch_unix_ns + r.first_ns;
  j["duration_s"] = r.duration_s();
  j["achieved_rate_per_s"] = r.achieved_rate();
  j["late_threshold_ns"] = r.late_threshold_ns;
  j["overall"] = tally_json(r.overall);
  j["routes"] = json::array();
  for (const auto& row : r.routes) {
    json t = tally_json(row.tally);
    t["route"] = row.route;
    j["routes"].push_back(std::move(t));
  }
  j["routes_folded"] = r.routes_folded;
  j["seconds"] = json::array();
  for (const auto& s : r.seconds)
    j["seconds"].push_back({{"start_ns", s.start_ns}, {"outcomes", s.outcomes}, {"sent", s.sent},
                            {"failed", s.failed}, {"shed", s.shed}, {"p50_ns", s.p50_ns},
                            {"p90_ns", s.p90_ns}, {"p99_ns", s.p99_ns}, {"max_ns", s.max_ns}});
  j["warnings"] = r.warnings;
  return j;
}

json to_json(const Comparison& c, const std::vector<GateResult>& gate) {
  json j;
  bool failed = false;
  j["gate"] = json::array();
  for (const auto& g : gate) {
    failed = failed || g.failed;
    j["gate"].push_back({{"rule", g.rule}, {"failed", g.failed}, {"evaluated", g.evaluated}, {"summary", g.summary},
                         {"findings", g.findings}});
  }
  j["verdict"] = gate.empty() ? "not gated" : failed ? "fail" : "pass";
  j["base"] = to_json(c.base);
  j["candidate"] = to_json(c.candidate);
  j["pairs"] = c.pairs;
  j["base_unpaired"] = c.base_unpaired;
  j["candidate_unpaired"] = c.candidate_unpaired;
  j["noise_pairs"] = c.noise_pairs;
  j["noise_sources"] = c.noise_sources;
  j["bodies_compared"] = c.bodies_compared;
  j["bodies_differing"] = c.bodies_differing;
  j["bodies_digest_only"] = c.bodies_digest_only;
  j["bodies_cut"] = c.bodies_cut;
  j["latency_samples_dropped"] = c.latency_samples_dropped;
  j["overall_latency_samples_dropped"] = c.overall_latency_samples_dropped;
  j["status_changes"] = c.status_changes;
  j["error_changes"] = c.error_changes;
  j["overall"] = row_json(c.overall);
  j["routes"] = json::array();
  for (const auto& r : c.routes) j["routes"].push_back(row_json(r));
  j["fields"] = json::array();
  for (const auto& f : c.fields)
    j["fields"].push_back({{"route", f.route}, {"path", f.path}, {"noise", f.count.noise},
                           {"differing", f.count.differing}, {"compared", f.count.compared},
                           {"noise_differing", f.count.noise_differing},
                           {"noise_compared", f.count.noise_compared}, {"examples", examples_json(f.examples)}});
  j["status_changes_by_route"] = json::array();
  for (const auto& s : c.statuses)
    j["status_changes_by_route"].push_back({{"route", s.route}, {"from", s.from}, {"to", s.to}, {"count", s.count},
                                            {"noise", s.noise}, {"examples", examples_json(s.examples)}});
  j["error_changes_by_route"] = json::array();
  for (const auto& e : c.errors)
    j["error_changes_by_route"].push_back({{"route", e.route}, {"from", e.from}, {"to", e.to}, {"count", e.count},
                                           {"examples", examples_json(e.examples)}});
  j["warnings"] = c.warnings;
  return j;
}

}  // namespace reprise::report
