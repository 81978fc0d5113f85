#include "reprise/replay/intensity.hpp"

#include <cmath>

namespace reprise::replay {

Intensity::Intensity(const Plan& plan) : rate_(plan.rate_per_s) {
  double previous = 0, area = 0;
  std::int64_t start = 0;
  for (const auto& s : plan.stages) {
    segments_.push_back({start, s.duration_ns, previous, s.level, area});
    area += (previous + s.level) / 2 * (static_cast<double>(s.duration_ns) / 1e9);
    start += s.duration_ns;
    previous = s.level;
  }
}

double Intensity::level(std::int64_t t) const {
  if (segments_.empty()) return 1.0;
  for (const auto& s : segments_) {
    if (t >= s.start_ns + s.duration_ns) continue;
    if (s.duration_ns == 0 || t < s.start_ns) return s.to;
    const double f = static_cast<double>(t - s.start_ns) / static_cast<double>(s.duration_ns);
    return s.from + (s.to - s.from) * f;
  }
  return segments_.back().to;
}

bool Intensity::past_stages(std::int64_t t) const {
  if (segments_.empty()) return false;
  const auto& last = segments_.back();
  return t >= last.start_ns + last.duration_ns;
}

std::optional<std::int64_t> Intensity::arrival_ns(std::uint64_t n) const {
  const double want = static_cast<double>(n) / rate_;  // level x seconds
  if (segments_.empty()) return static_cast<std::int64_t>(std::llround(want * 1e9));
  for (const auto& s : segments_) {
    const double d = static_cast<double>(s.duration_ns) / 1e9;
    const double area = (s.from + s.to) / 2 * d;
    if (want > s.area_before + area || d == 0) continue;
    // Solve from*x + (to-from)/(2d)*x^2 = want - area_before for x in [0, d].
    const double r = want - s.area_before;
    const double a = (s.to - s.from) / (2 * d);
    double x = 0;
    if (std::abs(a) < 1e-15) {
      x = s.from > 0 ? r / s.from : 0;
    } else {
      const double disc = s.from * s.from + 4 * a * r;
      x = (-s.from + std::sqrt(std::max(0.0, disc))) / (2 * a);
    }
    x = std::min(std::max(x, 0.0), d);
    return s.start_ns + static_cast<std::int64_t>(std::llround(x * 1e9));
  }
  return std::nullopt;
}

}  // namespace reprise::replay
