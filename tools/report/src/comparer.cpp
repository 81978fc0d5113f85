#include "reprise/report/comparison.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "reprise/format/record_json.hpp"

namespace reprise::report {
namespace {

const std::string kAll = "(all)";
const std::string kStatus = "(status)";
constexpr std::size_t kMaxExamples = 3;
// The overall row samples this many times the per-route limit: it holds every route's values.
constexpr std::size_t kOverallSamples = 4;

struct Key {
  std::uint64_t exchange_id = 0;
  std::uint32_t clone = 0, iteration = 0;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::uint64_t h = k.exchange_id * 0x9E3779B97F4A7C15ULL;
    h ^= (std::uint64_t{k.clone} << 32 | k.iteration) + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h);
  }
};

// What a side needs of one outcome to be compared with its pair.
struct Side {
  std::uint16_t status = 0;
  replay::OutcomeError error = replay::OutcomeError::None;
  std::uint64_t digest = 0;
  std::span<const std::uint8_t> body;
  bool body_known = false;  // false: the body was not kept or was cut (compare by digest only)
  bool cut = false;         // a prefix was kept: the body was longer than --keep-bodies
};

struct BaseEntry {
  std::uint32_t route = 0;
  std::uint16_t status = 0;
  replay::OutcomeError error = replay::OutcomeError::None;
  std::uint64_t digest = 0;
  bool body_known = false;
  bool cut = false;
  bool paired = false;
};

// Samples for percentiles: all of them up to the limit, then a uniform reservoir (Vitter's
// algorithm R with a fixed-seed generator, so the same runs give the same numbers).
struct Samples {
  std::vector<std::int64_t> values;
  std::uint64_t seen = 0;
  std::uint64_t rng = 0x2545F4914F6CDD1DULL;

  // Returns false when the value was left out (reservoir full and not chosen).
  bool add(std::int64_t v, std::size_t limit) {
    ++seen;
    if (values.size() < limit) {
      values.push_back(v);
      return true;
    }
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    const std::uint64_t slot = rng % seen;
    if (slot < limit) values[slot] = v;
    return false;
  }
};

struct RouteAcc {
  Samples base, candidate;
  std::uint64_t pairs = 0;
  std::uint64_t status_compared = 0, status_changed = 0;
  std::uint64_t noise_status_compared = 0, noise_status_changed = 0;
  std::uint64_t bodies_compared = 0, noise_bodies_compared = 0;
};

struct FieldAcc {
  std::uint64_t differing = 0, noise_differing = 0;
  std::vector<Example> examples;
};

bool is_noise(std::uint64_t differing, std::uint64_t compared, std::uint64_t noise_differing,
              std::uint64_t noise_compared, double ratio) {
  if (noise_differing == 0 || noise_compared == 0 || compared == 0) return noise_differing > 0 && differing == 0;
  const double rate = double(differing) / double(compared);
  const double noise_rate = double(noise_differing) / double(noise_compared);
  return noise_rate >= ratio * rate;
}

}  // namespace

std::string error_name(replay::OutcomeError e) {
  // One spelling for run files, `trace cat` and reports: the format library's.
  return format::error_kind_name(static_cast<format::fb::ErrorKind>(e));
}

int RateDelta::direction() const {
  if (base_total == 0 || candidate_total == 0) return 0;
  const double pooled = double(base_failed + candidate_failed) / double(base_total + candidate_total);
  const double se = std::sqrt(pooled * (1 - pooled) * (1.0 / double(base_total) + 1.0 / double(candidate_total)));
  if (se == 0) return 0;
  const double z = (candidate_rate() - base_rate()) / se;
  return z > 1.96 ? 1 : z < -1.96 ? -1 : 0;
}

struct Comparer::Impl {
  CompareOptions options;
  JsonDiffOptions diff_options;
  RouteNamer namer;
  ReportBuilder base_report, candidate_report;

  std::vector<std::string> route_names;
  std::unordered_map<const std::string*, std::uint32_t> route_ids;
  std::vector<RouteAcc> routes;
  RouteAcc overall;

  std::unordered_map<Key, BaseEntry, KeyHash> base;
  std::unordered_map<std::uint64_t, std::string> bodies;  // by digest: one copy per distinct body
  std::size_t body_bytes = 0;

  std::map<std::pair<std::uint32_t, std::string>, FieldAcc> fields;
  // Pairs by the set of paths they differ in: body_diffs counts pairs with any non-noise path.
  std::map<std::pair<std::uint32_t, std::vector<std::string>>, std::uint64_t> signatures;
  std::map<std::tuple<std::uint32_t, std::uint16_t, std::uint16_t>, StatusChange> status_changes;
  std::map<std::tuple<std::uint32_t, std::string, std::string>, ErrorChange> error_changes;

  std::vector<std::string> noise_sources;
  std::uint64_t noise_pairs = 0, noise_unpaired = 0, clone_pairs = 0;
  std::uint64_t pairs = 0, candidate_unpaired = 0, digest_only = 0, digest_only_cut = 0;
  std::uint64_t samples_dropped = 0, overall_samples_dropped = 0;
  std::uint64_t bodies_over_memory = 0;

  explicit Impl(CompareOptions o)
      : options(std::move(o)),
        namer(options.report.routes, options.report.max_routes),
        base_report(options.report),
        candidate_report(options.report) {
    diff_options.ignore = options.ignore_fields;
  }

  std::uint32_t route_id(const OutcomeView& o) {
    const std::string* name = o.method.empty() ? &RouteNamer::unrecorded() : &namer.name(o.method, o.target);
    auto [it, fresh] = route_ids.emplace(name, static_cast<std::uint32_t>(route_names.size()));
    if (fresh) {
      route_names.push_back(*name);
      routes.emplace_back();
    }
    return it->second;
  }

  Side side_of(const BaseEntry& e) const {
    Side s{e.status, e.error, e.digest, {}, false, e.cut};
    if (e.body_known) {
      if (auto it = bodies.find(e.digest); it != bodies.end()) {
        s.body = {reinterpret_cast<const std::uint8_t*>(it->second.data()), it->second.size()};
        s.body_known = true;
      }
    }
    return s;
  }

  static Side side_of(const OutcomeView& o) {
    // A body that was not kept is empty with a digest that is not the empty body's. A body longer
    // than --keep-bodies is a prefix whose digest is not the response's (the digest covers the
    // whole body): its bytes are not the body, so only the digest is compared.
    const bool cut = !o.body.empty() && format::body_digest(o.body) != o.response_digest;
    const bool known = !cut && (!o.body.empty() || o.response_digest == format::body_digest({}));
    return {o.facts.status, o.facts.error, o.response_digest, o.body, known, cut};
  }

  static bool answered(const Side& s) { return s.error == replay::OutcomeError::None && s.status != 0; }

  // The paths two answered bodies differ in (empty when equal). A body that is not whole (not
  // kept, or cut) is compared by its digest: where it differs, and whether only in an ignored
  // field, is unknown, so the difference is the whole body's.
  std::vector<FieldDifference> body_differences(const Side& a, const Side& b) {
    if (a.digest == b.digest) return {};
    if (!a.body_known || !b.body_known) {
      ++digest_only;
      if (a.cut || b.cut) ++digest_only_cut;
      auto shown = [](const Side& s) {
        return std::string(s.body_known ? "(whole body)" : s.cut ? "(cut at --keep-bodies)" : "(not kept)");
      };
      return {{kWholeBody, shown(a), shown(b)}};
    }
    return diff_bodies(a.body, b.body, diff_options);
  }

  void observe_noise(std::uint32_t route, const Side& a, const Side& b) {
    ++noise_pairs;
    auto& r = routes[route];
    ++r.noise_status_compared;
    if (a.status != b.status) ++r.noise_status_changed;
    if (a.status != b.status || !answered(a) || !answered(b)) return;
    ++r.noise_bodies_compared;
    for (const auto& d : body_differences(a, b)) {
      ++fields[{route, d.path}].noise_differing;
    }
  }

  void keep_body(const OutcomeView& o, const Side& s, BaseEntry& e) {
    if (!s.body_known) return;
    if (bodies.count(o.response_digest)) {
      e.body_known = true;
      return;
    }
    if (body_bytes + o.body.size() > options.max_body_memory) {
      ++bodies_over_memory;
      return;
    }
    bodies.emplace(o.response_digest, std::string(reinterpret_cast<const char*>(o.body.data()), o.body.size()));
    body_bytes += o.body.size();
    e.body_known = true;
  }

  void add_latency(RouteAcc& r, bool candidate, const OutcomeView& o) {
    const auto& f = o.facts;
    if (f.status == 0 || f.error != replay::OutcomeError::None) return;
    const std::int64_t v = f.done_ns - f.intended_ns;
    auto& s = candidate ? r.candidate : r.base;
    if (!s.add(v, options.max_latency_samples)) ++samples_dropped;
    auto& all = candidate ? overall.candidate : overall.base;
    if (!all.add(v, kOverallSamples * options.max_latency_samples)) ++overall_samples_dropped;
  }

  static Example example_of(const OutcomeView& o, std::string base_value, std::string candidate_value) {
    return {o.exchange_id, o.clone, o.iteration, std::string(o.target), std::move(base_value),
            std::move(candidate_value)};
  }
};

Comparer::Comparer(CompareOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Comparer::~Comparer() = default;

void Comparer::add_base(const OutcomeView& o) {
  auto& m = *impl_;
  const auto route = m.route_id(o);
  m.base_report.add(o, m.route_names[route]);
  m.add_latency(m.routes[route], false, o);
  BaseEntry e;
  e.route = route;
  e.status = o.facts.status;
  e.error = o.facts.error;
  e.digest = o.response_digest;
  const Side s = Impl::side_of(o);
  e.cut = s.cut;
  if (Impl::answered(s)) m.keep_body(o, s, e);
  m.base[{o.exchange_id, o.clone, o.iteration}] = e;
}

void Comparer::end_base() {
  auto& m = *impl_;
  // Clones of one exchange are the same request sent by different (simulated) users at different
  // moments: what differs between them differs without any change of release.
  for (const auto& [key, e] : m.base) {
    if (key.clone == 0) continue;
    auto it = m.base.find({key.exchange_id, 0, key.iteration});
    if (it == m.base.end()) continue;
    m.observe_noise(e.route, m.side_of(it->second), m.side_of(e));
    ++m.clone_pairs;
  }
  if (m.clone_pairs > 0)
    m.noise_sources.push_back("clones of one exchange within the base: " + std::to_string(m.clone_pairs) + " pairs");
}

void Comparer::add_noise(const OutcomeView& o) {
  auto& m = *impl_;
  auto it = m.base.find({o.exchange_id, o.clone, o.iteration});
  if (it == m.base.end()) {
    ++m.noise_unpaired;
    return;
  }
  m.observe_noise(it->second.route, m.side_of(it->second), Impl::side_of(o));
}

void Comparer::add_recorded(std::uint64_t exchange_id, std::uint16_t status,
                            std::span<const std::uint8_t> body) {
  auto& m = *impl_;
  auto it = m.base.find({exchange_id, 0, 0});
  if (it == m.base.end()) return;
  const Side recorded{status, replay::OutcomeError::None, format::body_digest(body), body, true, false};
  m.observe_noise(it->second.route, m.side_of(it->second), recorded);
}

void Comparer::add_noise_source(std::string description) { impl_->noise_sources.push_back(std::move(description)); }

void Comparer::add_candidate(const OutcomeView& o) {
  auto& m = *impl_;
  auto it = m.base.find({o.exchange_id, o.clone, o.iteration});
  // Routes come from the candidate's own request line; a pair uses the base's route so both
  // sides of a pair are counted in one place.
  const auto route = it != m.base.end() ? it->second.route : m.route_id(o);
  m.candidate_report.add(o, m.route_names[route]);
  m.add_latency(m.routes[route], true, o);
  if (it == m.base.end()) {
    ++m.candidate_unpaired;
    return;
  }
  BaseEntry& b = it->second;
  b.paired = true;
  ++m.pairs;
  auto& r = m.routes[route];
  ++r.pairs;
  const Side base = m.side_of(b);
  const Side cand = Impl::side_of(o);

  if (base.error != cand.error) {
    auto& ec = m.error_changes[{route, error_name(base.error), error_name(cand.error)}];
    ec.route = m.route_names[route];
    ec.from = error_name(base.error);
    ec.to = error_name(cand.error);
    ++ec.count;
    if (ec.examples.size() < kMaxExamples) ec.examples.push_back(Impl::example_of(o, ec.from, ec.to));
  }
  ++r.status_compared;
  if (base.status != cand.status) {
    ++r.status_changed;
    auto& sc = m.status_changes[{route, base.status, cand.status}];
    sc.route = m.route_names[route];
    sc.from = base.status;
    sc.to = cand.status;
    ++sc.count;
    if (sc.examples.size() < kMaxExamples)
      sc.examples.push_back(Impl::example_of(o, std::to_string(base.status), std::to_string(cand.status)));
    return;
  }
  if (!Impl::answered(base) || !Impl::answered(cand)) return;
  ++r.bodies_compared;
  auto diffs = m.body_differences(base, cand);
  if (diffs.empty()) return;
  std::vector<std::string> signature;
  for (auto& d : diffs) {
    auto& f = m.fields[{route, d.path}];
    ++f.differing;
    if (f.examples.size() < kMaxExamples)
      f.examples.push_back(Impl::example_of(o, std::move(d.base), std::move(d.candidate)));
    signature.push_back(std::move(d.path));
  }
  ++m.signatures[{route, std::move(signature)}];
}

Comparison Comparer::finish(const RunSet& base_set, const RunSet& candidate_set) {
  auto& m = *impl_;
  Comparison c;
  c.base = m.base_report.finish(base_set);
  c.candidate = m.candidate_report.finish(candidate_set);
  c.pairs = m.pairs;
  c.candidate_unpaired = m.candidate_unpaired;
  for (const auto& [key, e] : m.base)
    if (!e.paired) ++c.base_unpaired;
  c.noise_pairs = m.noise_pairs;
  c.noise_sources = m.noise_sources;
  c.bodies_digest_only = m.digest_only;
  c.bodies_cut = m.digest_only_cut;
  c.latency_samples_dropped = m.samples_dropped;
  c.overall_latency_samples_dropped = m.overall_samples_dropped;
  const double ratio = m.options.noise_ratio;

  // Field differences, with their noise verdict.
  std::set<std::pair<std::uint32_t, std::string>> noisy;
  for (auto& [key, acc] : m.fields) {
    const auto& r = m.routes[key.first];
    FieldDiff f;
    f.route = m.route_names[key.first];
    f.path = key.second;
    f.count = {acc.differing, r.bodies_compared, acc.noise_differing, r.noise_bodies_compared, false};
    f.count.noise = is_noise(acc.differing, r.bodies_compared, acc.noise_differing,
                             r.noise_bodies_compared, ratio);
    if (f.count.noise) noisy.insert(key);
    if (acc.differing == 0) continue;  // seen among the noise samples only: not a difference
    f.examples = std::move(acc.examples);
    c.fields.push_back(std::move(f));
  }
  std::stable_sort(c.fields.begin(), c.fields.end(), [](const FieldDiff& a, const FieldDiff& b) {
    if (a.count.noise != b.count.noise) return !a.count.noise;
    return a.count.differing > b.count.differing;
  });

  // Per-route rows, base order first.
  std::vector<std::uint32_t> order;
  std::set<std::uint32_t> placed;
  auto place = [&](const std::vector<RouteReport>& rows) {
    for (const auto& row : rows)
      for (std::uint32_t id = 0; id < m.route_names.size(); ++id)
        if (m.route_names[id] == row.route && placed.insert(id).second) order.push_back(id);
  };
  place(c.base.routes);
  place(c.candidate.routes);
  auto tally_of = [](const Report& rep, const std::string& name) -> const Tally* {
    for (const auto& row : rep.routes)
      if (row.route == name) return &row.tally;
    return nullptr;
  };
  auto latency_of = [&](RouteAcc& acc) {
    std::sort(acc.base.values.begin(), acc.base.values.end());
    std::sort(acc.candidate.values.begin(), acc.candidate.values.end());
    std::vector<QuantileDelta> out;
    for (double p : m.options.percentiles)
      out.push_back(compare_quantile(acc.base.values, acc.candidate.values, p, m.options.latency));
    return out;
  };
  auto errors_of = [](const Tally* b, const Tally* cand) {
    RateDelta d;
    if (b != nullptr) d = {b->stats.failed, b->stats.outcomes, 0, 0};
    if (cand != nullptr) {
      d.candidate_failed = cand->stats.failed;
      d.candidate_total = cand->stats.outcomes;
    }
    return d;
  };

  for (std::uint32_t id : order) {
    auto& acc = m.routes[id];
    RouteComparison rc;
    rc.route = m.route_names[id];
    rc.latency = latency_of(acc);
    rc.errors = errors_of(tally_of(c.base, rc.route), tally_of(c.candidate, rc.route));
    rc.pairs = acc.pairs;
    rc.bodies_compared = acc.bodies_compared;
    const bool status_noise = is_noise(acc.status_changed, acc.status_compared, acc.noise_status_changed,
                                       acc.noise_status_compared, ratio);
    rc.status_changes = status_noise ? 0 : acc.status_changed;
    for (const auto& [sig, n] : m.signatures) {
      if (sig.first != id) continue;
      const bool real = std::any_of(sig.second.begin(), sig.second.end(), [&](const std::string& p) {
        return !noisy.count({id, p});
      });
      if (real) rc.bodies_differing += n;
    }
    for (auto& [key, sc] : m.status_changes) {
      if (std::get<0>(key) != id) continue;
      sc.noise = status_noise;
      c.statuses.push_back(sc);
    }
    c.status_changes += rc.status_changes;
    c.bodies_compared += rc.bodies_compared;
    c.bodies_differing += rc.bodies_differing;
    c.routes.push_back(std::move(rc));
  }
  for (auto& [key, ec] : m.error_changes) {
    c.error_changes += ec.count;
    c.errors.push_back(std::move(ec));
  }
  std::stable_sort(c.statuses.begin(), c.statuses.end(),
                   [](const StatusChange& a, const StatusChange& b) { return a.count > b.count; });
  std::stable_sort(c.errors.begin(), c.errors.end(),
                   [](const ErrorChange& a, const ErrorChange& b) { return a.count > b.count; });

  c.overall.route = kAll;
  c.overall.latency = latency_of(m.overall);
  c.overall.errors = errors_of(&c.base.overall, &c.candidate.overall);
  c.overall.pairs = c.pairs;
  c.overall.status_changes = c.status_changes;
  c.overall.bodies_compared = c.bodies_compared;
  c.overall.bodies_differing = c.bodies_differing;

  // Warnings: what limits the comparison.
  if (Status compared = check_compared(c); !compared) c.warnings.push_back(compared.error().detail);
  if (c.pairs == 0)
    c.warnings.push_back("no outcome of the candidate pairs with one of the base: replay both with the same "
                         "plan (multiplier, seed, loop) so requests pair by exchange, clone and pass");
  else if (c.base_unpaired + c.candidate_unpaired > 0)
    c.warnings.push_back(std::to_string(c.base_unpaired) + " base and " + std::to_string(c.candidate_unpaired) +
                         " candidate outcomes have no pair (different plans or an aborted run); "
                         "latency uses every outcome, behaviour only pairs");
  if (m.noise_pairs == 0)
    c.warnings.push_back("no noise samples: every difference counts; give --noise BASE2 (a second base run), "
                         "replay with --multiplier 2 or more, or --trace, to tell noise from change");
  if (m.digest_only > m.digest_only_cut)
    c.warnings.push_back(std::to_string(m.digest_only - m.digest_only_cut) +
                         " body comparisons by digest only (a body was not kept: replay with --keep-bodies)");
  if (m.digest_only_cut > 0)
    c.warnings.push_back(std::to_string(m.digest_only_cut) +
                         " body comparisons by digest only: a body was longer than --keep-bodies, so its "
                         "fields could not be compared (nor --ignore-field applied); raise --keep-bodies "
                         "above the largest response");
  if (m.bodies_over_memory > 0)
    c.warnings.push_back(std::to_string(m.bodies_over_memory) + " base bodies over the body memory limit "
                         "(compared by digest only)");
  if (m.samples_dropped > 0)
    c.warnings.push_back("latency percentiles of large routes come from a uniform sample of " +
                         std::to_string(m.options.max_latency_samples) + " values per side");
  if (m.overall_samples_dropped > 0)
    c.warnings.push_back("overall latency percentiles come from a uniform sample of " +
                         std::to_string(kOverallSamples * m.options.max_latency_samples) + " values per side");
  if (m.noise_unpaired > 0)
    c.warnings.push_back(std::to_string(m.noise_unpaired) + " outcomes of the noise runs have no base pair");
  if (!base_set.files().empty() && !candidate_set.files().empty() &&
      base_set.files().front().plan != candidate_set.files().front().plan)
    c.warnings.push_back("base and candidate were replayed with different plans: latency is only comparable "
                         "at equal load");
  return c;
}

std::vector<std::string> compare_warnings(const Comparison& c) {
  std::vector<std::string> all = c.warnings;
  // A run set's own warnings name their role or file already.
  all.insert(all.end(), c.base.warnings.begin(), c.base.warnings.end());
  all.insert(all.end(), c.candidate.warnings.begin(), c.candidate.warnings.end());
  return all;
}

}  // namespace reprise::report
