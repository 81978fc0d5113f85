#include "reprise/replay/dry_run.hpp"

#include <algorithm>

namespace reprise::replay {

Result<DryRunReport> dry_run(const std::string& trace_path, const Plan& plan,
                             const Target& target) {
  if (Status st = plan.validate(); !st) return st.take_error();
  DryRunReport report;
  std::vector<double> busy_ns;  // recorded latency summed per second
  Plan shown = plan;
  if (plan.pacing == Pacing::Max && plan.loop) {
    shown.loop = false;
    report.one_pass_of_loop = true;
  }
  TraceFeed feed(trace_path, shown, target);
  Status st = feed.run([&](ScheduledRequest&& r) {
    ++report.requests;
    report.last_due_ns = std::max(report.last_due_ns, r.due_ns);
    const auto second = static_cast<std::size_t>(std::max<std::int64_t>(0, r.due_ns) / 1'000'000'000);
    if (second >= DryRunReport::kMaxSeconds) {
      report.per_second_truncated = true;
      return true;
    }
    if (report.per_second.size() <= second) {
      report.per_second.resize(second + 1, 0);
      busy_ns.resize(second + 1, 0);
    }
    ++report.per_second[second];
    busy_ns[second] += static_cast<double>(r.request.recorded_latency_ns);
    return true;
  });
  if (!st) return st.take_error();
  for (std::size_t i = 0; i < report.per_second.size(); ++i) {
    report.peak_rate = std::max(report.peak_rate, report.per_second[i]);
    report.peak_inflight = std::max(report.peak_inflight, busy_ns[i] / 1e9);
  }
  report.peak_inflight = std::min(report.peak_inflight, static_cast<double>(plan.max_inflight));
  report.feed = feed.stats();
  report.schedule = feed.schedule().stats();
  report.session_clones = report.schedule.clones_admitted;
  return report;
}

std::string sparkline(const std::vector<std::uint64_t>& values, std::size_t width) {
  static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (values.empty() || width == 0) return {};
  const std::size_t cells = std::min(width, values.size());
  std::vector<std::uint64_t> peaks(cells, 0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto& p = peaks[i * cells / values.size()];
    p = std::max(p, values[i]);
  }
  const std::uint64_t top = *std::max_element(peaks.begin(), peaks.end());
  std::string out;
  for (const auto v : peaks) {
    const std::size_t level = top == 0 ? 0 : static_cast<std::size_t>((v * 7 + top - 1) / top);
    out += kBars[std::min<std::size_t>(level, 7)];
  }
  return out;
}

}  // namespace reprise::replay
