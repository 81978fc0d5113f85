#include "session_values.hpp"

#include <algorithm>

#include "reprise/replay/correlation_rule.hpp"

namespace reprise::replay {

SessionValues::SessionValues(std::size_t max_sessions, std::size_t max_values)
    : max_sessions_(std::max<std::size_t>(1, max_sessions)), max_values_(std::max<std::size_t>(1, max_values)) {}

void SessionValues::touch(Session& s) { lru_.splice(lru_.end(), lru_, s.lru); }

void SessionValues::add(std::uint64_t session, SessionValue v) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    if (sessions_.size() >= max_sessions_) {
      sessions_.erase(lru_.front());
      lru_.pop_front();
      ++sessions_forgotten_;
    }
    it = sessions_.emplace(session, Session{}).first;
    it->second.lru = lru_.insert(lru_.end(), session);
  } else {
    touch(it->second);
  }
  auto& values = it->second.values;
  values.erase(std::remove_if(values.begin(), values.end(),
                              [&](const SessionValue& old) { return old.value == v.value; }),
               values.end());
  if (values.size() >= max_values_) {
    values.erase(oldest_of_largest_rule(values, [](const SessionValue& x) { return x.rule; }));
    ++values_forgotten_;
  }
  std::string encoded = percent_encode(v.value);
  v.encoded = encoded == v.value ? std::string() : std::move(encoded);
  values.push_back(std::move(v));
}

}  // namespace reprise::replay
