#include "reprise/replay/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace reprise::replay {
namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// One draw per purpose: the salt keeps rank, offset and shard independent of each other.
std::uint64_t draw(std::uint64_t salt, std::uint64_t seed, std::uint64_t id, std::uint32_t clone,
                   std::uint32_t iteration) {
  std::uint64_t h = splitmix(salt ^ splitmix(seed));
  h = splitmix(h ^ id);
  return splitmix(h ^ ((std::uint64_t{clone} << 32) | iteration));
}

constexpr std::uint64_t kRankSalt = 0x72616e6b;    // "rank"
constexpr std::uint64_t kOffsetSalt = 0x6f666673;  // "offs"
constexpr std::uint64_t kShardSalt = 0x73686172;   // "shar"
constexpr std::uint64_t kKeySalt = 0x6b657973;     // "keys"

}  // namespace

std::uint64_t session_clone_key(std::uint64_t session, std::uint32_t clone, std::uint32_t iteration) {
  return draw(kKeySalt, 0, session, clone, iteration);
}

std::uint64_t ScheduledRequest::session_key() const {
  return session_clone_key(request.session_id, clone, iteration);
}

std::uint64_t ScheduledRequest::connection_key() const {
  return draw(kKeySalt, 1, request.connection_id, clone, iteration);
}

double Schedule::clone_rank(std::uint64_t seed, std::uint64_t session, std::uint32_t clone,
                            std::uint32_t iteration) {
  return static_cast<double>(draw(kRankSalt, seed, session, clone, iteration) >> 11) * 0x1.0p-53;
}

std::int64_t Schedule::clone_offset_ns(std::uint64_t seed, std::uint64_t session,
                                       std::uint32_t clone, std::uint32_t iteration,
                                       std::int64_t spread_ns) {
  if (clone == 0) return 0;
  const std::uint64_t h = draw(kOffsetSalt, seed, session, clone, iteration);
  return 1 + static_cast<std::int64_t>(h % static_cast<std::uint64_t>(spread_ns));
}

std::uint32_t Schedule::shard_of(std::uint64_t seed, std::uint64_t session, std::uint32_t clone,
                                 std::uint32_t iteration, std::uint32_t shards) {
  return static_cast<std::uint32_t>(draw(kShardSalt, seed, session, clone, iteration) % shards);
}

Schedule::Schedule(const Plan& plan) : plan_(plan), intensity_(plan), clones_(plan.clones()) {
  std::optional<std::int64_t> end;
  if (plan.duration_ns > 0) end = plan.duration_ns;
  if (!plan.stages.empty()) end = end ? std::min(*end, plan.stages_ns()) : plan.stages_ns();
  end_ns_ = end;
}

std::int64_t Schedule::base_ns(std::int64_t recorded_ns) const {
  const double recorded = static_cast<double>(recorded_ns - recorded0_) +
                          static_cast<double>(iteration_) * static_cast<double>(period_ns_);
  // Saturated: past ~285 years the time is "never", not an overflow that makes it due at once.
  return static_cast<std::int64_t>(std::llround(std::min(recorded / plan_.speed, 9.0e18)));
}

Schedule::SessionState& Schedule::session(std::uint64_t id, std::int64_t base) {
  auto it = sessions_.find(id);
  if (it != sessions_.end()) {
    it->second.last_base_ns = base;
    return it->second;
  }
  if (sessions_.size() >= plan_.max_sessions) forget_idle_sessions();
  SessionState& s = sessions_[id];
  s.first_base_ns = s.last_base_ns = base;
  for (std::uint32_t k = 0; k < clones_; ++k) {
    ++stats_.sessions;
    const std::int64_t start =
        base + clone_offset_ns(plan_.seed, id, k, iteration_, plan_.clone_spread_ns);
    const double level = plan_.multiplier * (plan_.pacing == Pacing::Recorded
                                                 ? intensity_.level(start)
                                                 : 1.0);
    if (plan_.pacing == Pacing::Recorded && end_ns_ && start > *end_ns_) {
      ++stats_.clones_past_end;
    } else if (static_cast<double>(k) + clone_rank(plan_.seed, id, k, iteration_) >= level) {
      ++stats_.clones_below_level;
    } else if (shard_of(plan_.seed, id, k, iteration_, plan_.shard_count) != plan_.shard_index) {
      ++stats_.clones_other_shard;
    } else {
      ++stats_.clones_admitted;
      s.clones.push_back(k);
    }
  }
  return s;
}

void Schedule::forget_idle_sessions() {
  // Drop the half that has been idle longest: amortised O(1) per new session.
  std::vector<std::int64_t> last;
  last.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) last.push_back(s.last_base_ns);
  auto mid = last.begin() + static_cast<std::ptrdiff_t>(last.size() / 2);
  std::nth_element(last.begin(), mid, last.end());
  const std::int64_t cut = *mid;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.last_base_ns <= cut) {
      it = sessions_.erase(it);
      ++stats_.sessions_forgotten;
    } else {
      ++it;
    }
  }
}

void Schedule::push(TraceRequest r) {
  if (input_done()) return;
  ++stats_.input_requests;
  if (!have_first_) {
    have_first_ = true;
    recorded0_ = r.recorded_ns;
    last_recorded_ = r.recorded_ns;
  }
  last_recorded_ = std::max(last_recorded_, r.recorded_ns);
  ++pass_requests_;
  const std::int64_t base = base_ns(r.recorded_ns);
  if (plan_.pacing == Pacing::Recorded && end_ns_ && base > *end_ns_) {
    beyond_end_ = true;  // input is in order: everything later is past the end too
    return;
  }
  watermark_ = std::max(watermark_, base);
  const SessionState& s = session(r.session_id, base);
  for (std::size_t i = 0; i < s.clones.size(); ++i) {
    const std::uint32_t k = s.clones[i];
    ScheduledRequest out;
    out.due_ns = base + clone_offset_ns(plan_.seed, r.session_id, k, iteration_,
                                        plan_.clone_spread_ns);
    if (plan_.pacing == Pacing::Recorded && end_ns_ && out.due_ns > *end_ns_) {
      ++stats_.past_end;
      continue;
    }
    out.order = next_order_++;
    out.clone = k;
    out.iteration = iteration_;
    if (i + 1 == s.clones.size()) out.request = std::move(r);
    else out.request = r;
    heap_.push_back(std::move(out));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
}

void Schedule::end_pass() {
  if (input_done()) return;
  if (!have_first_) {  // an empty trace: nothing to loop over
    finished_ = true;
    return;
  }
  ++stats_.passes;
  if (!plan_.loop) {
    finished_ = true;
    return;
  }
  if (period_ns_ == 0) {
    // One pass lasts the recorded span plus one mean gap, so the last request of a pass and
    // the first of the next are as far apart as the recording's requests on average.
    const std::int64_t span = last_recorded_ - recorded0_;
    const std::int64_t gap =
        pass_requests_ > 1 ? span / static_cast<std::int64_t>(pass_requests_ - 1) : 0;
    period_ns_ = std::max<std::int64_t>(span + gap, 1'000'000);
  }
  ++iteration_;
  pass_requests_ = 0;
  sessions_.clear();  // a new pass is a new population of sessions
  const std::int64_t next_start = base_ns(recorded0_);
  if (plan_.pacing == Pacing::Recorded && end_ns_ && next_start > *end_ns_) beyond_end_ = true;
  watermark_ = std::max(watermark_, next_start);
}

void Schedule::finish() { finished_ = true; }

bool Schedule::input_done() const { return finished_ || beyond_end_; }

std::optional<ScheduledRequest> Schedule::pop() {
  if (heap_.empty()) return std::nullopt;
  if (!input_done() && heap_.front().due_ns > watermark_) return std::nullopt;
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  ScheduledRequest out = std::move(heap_.back());
  heap_.pop_back();
  if (plan_.pacing == Pacing::Rate) {
    const auto at = intensity_.arrival_ns(next_arrival_++);
    if (!at || (plan_.duration_ns > 0 && *at >= plan_.duration_ns)) {
      // Arrivals are increasing: this one and every later one fall after the end.
      stats_.past_end += 1 + heap_.size();
      heap_.clear();
      beyond_end_ = true;
      return std::nullopt;
    }
    out.due_ns = *at;
  } else if (plan_.pacing == Pacing::Max) {
    out.due_ns = 0;
  }
  ++stats_.planned;
  return out;
}

}  // namespace reprise::replay
