#include "reprise/report/report.hpp"

#include <algorithm>
#include <cmath>

namespace reprise::report {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

void add_to(Tally& t, const replay::OutcomeFacts& f, std::int64_t late_threshold_ns) {
  t.stats.add(f);
  if (f.was_sent() && f.sent_ns - f.intended_ns > late_threshold_ns) ++t.late;
}

}  // namespace

ReportBuilder::ReportBuilder(ReportOptions options)
    : options_(std::move(options)), namer_(options_.routes, options_.max_routes) {}

const std::string& ReportBuilder::route_of(const OutcomeView& o) {
  if (o.method.empty()) return RouteNamer::unrecorded();
  return namer_.name(o.method, o.target);
}

void ReportBuilder::add(const OutcomeView& o) { add(o, route_of(o)); }

void ReportBuilder::add(const OutcomeView& o, const std::string& route) {
  const auto& f = o.facts;
  if (!any_) {
    first_ns_ = f.intended_ns;
    last_ns_ = f.done_ns;
    any_ = true;
  }
  first_ns_ = std::min(first_ns_, f.intended_ns);
  last_ns_ = std::max(last_ns_, f.done_ns);
  add_to(overall_, f, options_.late_threshold_ns);
  add_to(routes_[route], f, options_.late_threshold_ns);
  // Counted here, not by namer_: compare names routes with its own namer and passes them in.
  if (route == RouteNamer::kOther) ++folded_;

  std::int64_t second = std::max<std::int64_t>(0, f.done_ns) / kSecond;
  if (seconds_.size() >= options_.max_seconds && !seconds_.count(second))
    second = std::prev(seconds_.end())->first;
  auto& acc = seconds_[second];
  auto& c = acc.counts;
  ++c.outcomes;
  if (f.was_sent()) ++c.sent;
  if (f.failed()) ++c.failed;
  if (f.error == replay::OutcomeError::Shed) ++c.shed;
  ++c.status_classes[f.status >= 100 && f.status < 600 ? f.status / 100 : 0];
  if (f.status != 0 && f.error == replay::OutcomeError::None) {
    ++acc.corrected[replay::Histogram::bucket_of(f.done_ns - f.intended_ns)];
    acc.max_ns = std::max(acc.max_ns, f.done_ns - f.intended_ns);
  }
}

SecondStats ReportBuilder::close_second(std::int64_t second) const {
  SecondStats out;
  if (auto it = seconds_.find(second); it != seconds_.end()) {
    out = it->second.counts;
    const auto& buckets = it->second.corrected;
    for (const auto& [bucket, n] : buckets) out.responses += n;
    // The upper bound of the bucket holding the ceil(p * n)-th value, and never above the
    // second's largest value, as Histogram::percentile: one 1.000 ms response is p50 1.000 ms.
    const std::int64_t max_ns = it->second.max_ns;
    auto at = [&](double p) {
      const auto rank = std::max<std::uint64_t>(
          1, static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(out.responses))));
      std::uint64_t seen = 0;
      for (const auto& [bucket, n] : buckets) {
        seen += n;
        if (seen >= rank) return std::min(replay::Histogram::bucket_high(bucket), max_ns);
      }
      return max_ns;
    };
    if (out.responses > 0) {
      out.p50_ns = at(0.50);
      out.p90_ns = at(0.90);
      out.p99_ns = at(0.99);
      out.max_ns = max_ns;
    }
  }
  out.start_ns = second * kSecond;
  return out;
}

Report ReportBuilder::finish(const RunSet& set) {
  Report r;
  r.files = set.files();
  r.warnings = set.warnings();
  r.end_reason = set.end_reason();
  r.epoch_unix_ns = set.epoch_unix_ns();
  r.first_ns = first_ns_;
  r.last_ns = last_ns_;
  r.late_threshold_ns = options_.late_threshold_ns;
  r.overall = overall_;
  r.routes_folded = folded_;
  for (auto& [name, tally] : routes_) r.routes.push_back({name, std::move(tally)});
  std::stable_sort(r.routes.begin(), r.routes.end(), [](const RouteReport& a, const RouteReport& b) {
    return a.tally.stats.outcomes > b.tally.stats.outcomes;
  });
  // A continuous timeline: seconds with no outcome are present and empty, so plots show gaps.
  if (!seconds_.empty()) {
    const std::int64_t from = std::max<std::int64_t>(0, first_ns_) / kSecond;
    const std::int64_t to = seconds_.rbegin()->first;
    for (std::int64_t s = std::min(from, seconds_.begin()->first); s <= to; ++s)
      r.seconds.push_back(close_second(s));
  }
  if (r.routes_folded > 0)
    r.warnings.push_back(std::to_string(r.routes_folded) + " requests beyond the first " +
                         std::to_string(options_.max_routes) + " routes are counted as \"" +
                         RouteNamer::kOther + "\" (raise --max-routes or add --route rules)");
  return r;
}

Result<Report> build_report(RunSet& set, const ReportOptions& options) {
  ReportBuilder b(options);
  if (Status st = set.for_each([&b](const OutcomeView& o) { b.add(o); }); !st) return st.take_error();
  Report r = b.finish(set);
  return r;
}

}  // namespace reprise::report
