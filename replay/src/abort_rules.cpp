#include "reprise/replay/abort_rules.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "reprise/replay/error.hpp"
#include "reprise/text.hpp"
#include "reprise/units.hpp"

namespace reprise::replay {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kFullWindowSamples = 10;  // see the header
constexpr std::int64_t kMaxWindowS = 600;

constexpr const char* kSyntax =
    "expected METRIC>THRESHOLD/WINDOW, e.g. errors>20%/10s, errors>100/10s, p99>2s/30s, "
    "corrected_p99.9>5s/30s, lateness_p99>1s/10s, connect_failures>50/5s, shed>1%/10s, "
    "timeouts>5%/10s";

Error bad(std::string_view text, const std::string& what) {
  return fail(errc::bad_rule, "--abort-on",
              "'" + std::string(text) + "': " + what + "; " + kSyntax);
}

std::int64_t floor_second(std::int64_t ns) {
  return ns / kSecond - (ns % kSecond < 0 ? 1 : 0);
}

std::int64_t second_of(const IntervalStats& s) { return floor_second(s.start_ns); }

void push_second(std::deque<IntervalStats>& seconds, std::int64_t second) {
  auto& s = seconds.emplace_back();
  s.start_ns = second * kSecond;
  s.duration_ns = kSecond;
}

std::int64_t window_seconds(const AbortRule& r) {
  return std::max<std::int64_t>(1, (r.window_ns + kSecond - 1) / kSecond);
}

bool is_latency(AbortRule::Metric m) {
  return m == AbortRule::Metric::Latency || m == AbortRule::Metric::CorrectedLatency ||
         m == AbortRule::Metric::Lateness;
}

// "99", "99.9", "50" → the percentile; nullopt unless it is a plain decimal in (0, 100].
std::optional<double> parse_percentile(std::string_view digits) {
  if (digits.empty() || digits.front() == '.' || digits.back() == '.') return std::nullopt;
  if (std::count(digits.begin(), digits.end(), '.') > 1) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
    return std::nullopt;
  const double p = std::strtod(std::string(digits).c_str(), nullptr);
  if (!(p > 0 && p <= 100)) return std::nullopt;
  return p;
}

// Fills metric and percentile from the name left of '>'; false if the name is unknown.
bool parse_metric(std::string_view name, AbortRule& rule) {
  using M = AbortRule::Metric;
  if (name == "errors") rule.metric = M::Errors;
  else if (name == "connect_failures") rule.metric = M::ConnectFailures;
  else if (name == "shed") rule.metric = M::Shed;
  else if (name == "timeouts") rule.metric = M::Timeouts;
  else {
    M metric = M::Latency;
    if (name.starts_with("corrected_")) {
      metric = M::CorrectedLatency;
      name.remove_prefix(10);
    } else if (name.starts_with("lateness_")) {
      metric = M::Lateness;
      name.remove_prefix(9);
    }
    if (!name.starts_with('p')) return false;
    const auto p = parse_percentile(name.substr(1));
    if (!p) return false;
    rule.metric = metric;
    rule.percentile = *p;
  }
  return true;
}

std::string fixed(double v, const char* format) {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

Result<AbortRule> parse_abort_rule(std::string_view text) {
  text = trim_ows(text);
  AbortRule rule;
  rule.text = std::string(text);
  // Spaces around the operator and the slash are allowed ("errors > 20% / 10s").
  std::string compact;
  for (char c : text)
    if (c != ' ' && c != '\t') compact += c;
  const std::string_view s = compact;

  if (s.empty()) return bad(text, "empty rule");
  if (s.find('<') != std::string_view::npos)
    return bad(text, "only '>' is supported: a rule says when to stop");
  const auto gt = s.find('>');
  if (gt == std::string_view::npos) return bad(text, "missing '>' between metric and threshold");
  if (s.find('>', gt + 1) != std::string_view::npos || s.substr(gt + 1).starts_with('='))
    return bad(text, "one '>' only ('>=' is not supported)");

  const std::string_view name = s.substr(0, gt);
  if (name.empty()) return bad(text, "missing metric before '>'");
  if (!parse_metric(name, rule))
    return bad(text, "unknown metric '" + std::string(name) +
                         "' (metrics: errors, pNN, pNN.N, corrected_pNN, lateness_pNN, "
                         "connect_failures, shed, timeouts)");

  const std::string_view rest = s.substr(gt + 1);
  const auto slash = rest.rfind('/');
  if (slash == std::string_view::npos)
    return bad(text, "missing window: add '/' and a duration such as /10s");
  const std::string_view threshold = rest.substr(0, slash);
  const std::string_view window = rest.substr(slash + 1);
  if (threshold.empty()) return bad(text, "missing threshold after '>'");
  if (window.empty()) return bad(text, "missing window after '/', such as /10s");
  if (threshold.starts_with('-')) return bad(text, "the threshold must not be negative");

  if (is_latency(rule.metric)) {
    if (threshold.ends_with('%'))
      return bad(text, "a latency threshold is a duration such as 2s or 250ms, not a share");
    const auto ns = parse_duration_ns(threshold);
    if (!ns)
      return bad(text, "bad latency threshold '" + std::string(threshold) +
                           "': expected a duration such as 2s or 250ms");
    rule.threshold = static_cast<double>(*ns);
  } else if (threshold.ends_with('%')) {
    const auto share = parse_percent(threshold);
    if (!share)
      return bad(text, "bad share '" + std::string(threshold) + "': expected e.g. 20% or 0.5%");
    if (*share > 1) return bad(text, "a share cannot exceed 100%");
    rule.share = true;
    rule.threshold = *share;
  } else {
    if (!std::all_of(threshold.begin(), threshold.end(),
                     [](char c) { return c >= '0' && c <= '9'; }) ||
        threshold.size() > 18)
      return bad(text, "bad threshold '" + std::string(threshold) +
                           "': expected a count such as 100 or a share such as 20%");
    rule.threshold = std::strtod(std::string(threshold).c_str(), nullptr);
  }

  if (window.starts_with('-')) return bad(text, "the window must not be negative");
  const auto window_ns = parse_duration_ns(window);
  if (!window_ns)
    return bad(text, "bad window '" + std::string(window) + "': expected a duration such as 10s");
  if (*window_ns <= 0) return bad(text, "the window must be at least 1s");
  const std::int64_t seconds = (*window_ns + kSecond - 1) / kSecond;
  if (seconds > kMaxWindowS) return bad(text, "the window must be at most 10m");
  rule.window_ns = seconds * kSecond;
  return rule;
}

std::vector<AbortRule> default_abort_rules() {
  std::vector<AbortRule> rules;
  for (const char* text : {"errors>20%/10s", "p99>2s/30s", "lateness_p99>1s/10s",
                           "connect_failures>50/5s"})
    rules.push_back(parse_abort_rule(text).value());
  return rules;
}

AbortGuard::AbortGuard(std::vector<AbortRule> rules, std::uint64_t min_samples)
    : rules_(std::move(rules)), min_samples_(min_samples) {
  for (const auto& r : rules_) max_window_s_ = std::max(max_window_s_, window_seconds(r));
}

// seconds_ holds consecutive seconds, the newest being the latest second seen by add() or
// check(); seconds that no window can reach any more are dropped from the front. A jump of more
// than the longest window (a stalled clock, a gap in the run) starts afresh instead of creating
// empty seconds one by one.
void AbortGuard::advance_to(std::int64_t second) {
  if (seconds_.empty() || second - second_of(seconds_.back()) >= max_window_s_) {
    seconds_.clear();
    push_second(seconds_, second);
    return;
  }
  while (second_of(seconds_.back()) < second)
    push_second(seconds_, second_of(seconds_.back()) + 1);
  while (second_of(seconds_.front()) <= second - max_window_s_) seconds_.pop_front();
}

void AbortGuard::add(const OutcomeFacts& o) {
  const std::int64_t second = floor_second(o.done_ns);
  if (seconds_.empty() || second > second_of(seconds_.back())) advance_to(second);
  const std::int64_t newest = second_of(seconds_.back());
  if (second <= newest - max_window_s_) return;  // older than every window
  while (second < second_of(seconds_.front())) {
    auto& s = seconds_.emplace_front();
    s.start_ns = (second_of(seconds_[1]) - 1) * kSecond;
    s.duration_ns = kSecond;
  }
  seconds_[static_cast<std::size_t>(second - second_of(seconds_.front()))].add(o);
}

std::optional<std::string> AbortGuard::check(std::int64_t now_ns) {
  if (seconds_.empty()) return std::nullopt;
  const std::int64_t now = floor_second(now_ns);
  if (now > second_of(seconds_.back())) advance_to(now);
  const std::int64_t front = second_of(seconds_.front());

  for (const auto& rule : rules_) {
    const std::int64_t window = window_seconds(rule);
    const std::int64_t first = std::max(now - window + 1, front);
    const std::int64_t last = std::min(now, second_of(seconds_.back()));
    const auto at = [&](std::int64_t second) -> const IntervalStats& {
      return seconds_[static_cast<std::size_t>(second - front)];
    };
    // Strings are built only for the rule that fires: check() runs often and allocates nothing
    // while the run is healthy.
    const auto in_last = [window] { return " in the last " + std::to_string(window) + "s"; };
    // A low-rate run never gathers min_samples in a window: once the run is a window old, a
    // window needs only kFullWindowSamples (1/s fills a 10 s window with 10).
    const std::uint64_t needed =
        now_ns >= window * kSecond ? std::min(min_samples_, kFullWindowSamples) : min_samples_;

    if (is_latency(rule.metric)) {
      const auto pick = [&](const IntervalStats& s) -> const Histogram& {
        if (rule.metric == AbortRule::Metric::Latency) return s.service;
        if (rule.metric == AbortRule::Metric::CorrectedLatency) return s.corrected;
        return s.lateness;
      };
      // Count first (cheap) so that a quiet window costs no histogram merge.
      std::uint64_t samples = 0;
      for (std::int64_t sec = first; sec <= last; ++sec) samples += pick(at(sec)).count();
      if (samples == 0 || samples < needed) continue;
      scratch_.clear();
      for (std::int64_t sec = first; sec <= last; ++sec) scratch_.merge(pick(at(sec)));
      const std::int64_t value = scratch_.percentile(rule.percentile);
      if (static_cast<double>(value) <= rule.threshold) continue;
      const char* prefix = rule.metric == AbortRule::Metric::Latency            ? ""
                           : rule.metric == AbortRule::Metric::CorrectedLatency ? "corrected "
                                                                                 : "lateness ";
      const char* what = rule.metric == AbortRule::Metric::Lateness ? " requests" : " responses";
      return rule.text + ": " + prefix + "p" + fixed(rule.percentile, "%g") + " was " +
             format_duration(value) + " over " + std::to_string(samples) + what + in_last();
    }

    std::uint64_t outcomes = 0;
    std::uint64_t count = 0;
    for (std::int64_t sec = first; sec <= last; ++sec) {
      const IntervalStats& s = at(sec);
      outcomes += s.outcomes;
      switch (rule.metric) {
        case AbortRule::Metric::Errors: count += s.failed; break;
        case AbortRule::Metric::ConnectFailures:
          count += s.errors[static_cast<std::size_t>(OutcomeError::Connect)];
          break;
        case AbortRule::Metric::Shed:
          count += s.errors[static_cast<std::size_t>(OutcomeError::Shed)];
          break;
        case AbortRule::Metric::Timeouts:
          count += s.errors[static_cast<std::size_t>(OutcomeError::Timeout)];
          break;
        default: break;
      }
    }
    if (rule.share) {
      if (outcomes == 0 || outcomes < needed) continue;
      const double share = static_cast<double>(count) / static_cast<double>(outcomes);
      if (share <= rule.threshold) continue;
      return rule.text + ": " + fixed(share * 100, "%.3g") + "% of " + std::to_string(outcomes) +
             " outcomes" + in_last();
    }
    if (static_cast<double>(count) <= rule.threshold) continue;
    const char* what = rule.metric == AbortRule::Metric::Errors           ? " failed outcomes"
                       : rule.metric == AbortRule::Metric::ConnectFailures ? " connect failures"
                       : rule.metric == AbortRule::Metric::Shed            ? " shed requests"
                                                                           : " timeouts";
    return rule.text + ": " + std::to_string(count) + what + in_last();
  }
  return std::nullopt;
}

}  // namespace reprise::replay
