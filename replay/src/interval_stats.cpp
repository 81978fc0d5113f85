#include "reprise/replay/interval_stats.hpp"

#include <algorithm>

namespace reprise::replay {

void IntervalStats::add(const OutcomeFacts& o) {
  ++outcomes;
  const bool was_sent = o.was_sent();
  if (was_sent) ++sent;
  if (o.failed()) ++failed;
  status_classes[o.status >= 100 && o.status < 600 ? o.status / 100 : 0] += 1;
  // An error value from a damaged or newer run file must not write past the array.
  const auto kind = static_cast<std::size_t>(o.error);
  if (kind < errors.size()) ++errors[kind];
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;

  if (o.status != 0 && o.error == OutcomeError::None) {
    corrected.record(o.done_ns - o.intended_ns);
    service.record(o.done_ns - o.sent_ns);
  }
  // A shed request waited from its intended time until it was given up: that wait is the
  // generator's lateness too, and leaving it out would hide the overload that caused the shedding.
  if (o.error == OutcomeError::Shed) lateness.record(o.done_ns - o.intended_ns);
  else if (was_sent) lateness.record(o.sent_ns - o.intended_ns);
}

void IntervalStats::merge(const IntervalStats& other) {
  // The span becomes the union of both, so seconds merged into a window describe the window;
  // an interval without a duration yet takes the other's.
  if (duration_ns == 0) {
    start_ns = other.start_ns;
    duration_ns = other.duration_ns;
  } else if (other.duration_ns != 0) {
    const std::int64_t end =
        std::max(start_ns + duration_ns, other.start_ns + other.duration_ns);
    start_ns = std::min(start_ns, other.start_ns);
    duration_ns = end - start_ns;
  }
  outcomes += other.outcomes;
  sent += other.sent;
  failed += other.failed;
  for (std::size_t i = 0; i < status_classes.size(); ++i)
    status_classes[i] += other.status_classes[i];
  for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += other.errors[i];
  bytes_sent += other.bytes_sent;
  bytes_received += other.bytes_received;
  corrected.merge(other.corrected);
  service.merge(other.service);
  lateness.merge(other.lateness);
}

void IntervalStats::clear() {
  outcomes = sent = failed = 0;
  status_classes.fill(0);
  errors.fill(0);
  bytes_sent = bytes_received = 0;
  corrected.clear();
  service.clear();
  lateness.clear();
}

}  // namespace reprise::replay
