#pragma once
// SessionValues: per recorded session, the values its responses carried so far, and the test of
// a later request against them. Shared by automatic detection (value_detector.cpp) and the
// replay-time tracker (correlation_tracker.cpp), which differ only in what a value's `rule`
// number means to them.
//
// A value becomes available when its response ended (recorded time): a request that started
// before then cannot have learned it from that response. A request uses a value when the value
// occurs in it as is or percent-encoded (query strings and forms encode '+', '/', '=').
//
// Limits: at most max_values per session and max_sessions sessions (the one idle longest is
// forgotten). A full session forgets the oldest value of the rule that holds the most: a list
// of 300 item ids must not push out the one login token (and within a rule the oldest goes: a
// token rotated since is the one later requests carry). Both are counted.

#include <algorithm>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reprise::replay {

// The oldest element (first in `values`, which is in arrival order) of the rule that has the
// most elements; `rule_of(element)` gives its rule. `values` must not be empty.
template <typename T, typename RuleOf>
typename std::vector<T>::iterator oldest_of_largest_rule(std::vector<T>& values, RuleOf rule_of) {
  std::unordered_map<std::uint32_t, std::size_t> counts;
  std::uint32_t largest = rule_of(values.front());
  for (const T& v : values)
    if (++counts[rule_of(v)] > counts[largest]) largest = rule_of(v);
  return std::find_if(values.begin(), values.end(), [&](const T& v) { return rule_of(v) == largest; });
}

struct SessionValue {
  std::string value;
  std::string encoded;            // percent-encoded form; empty when it equals value
  std::uint64_t producer = 0;     // the exchange whose response carried it
  std::uint32_t rule = 0;
  std::string place;
  std::int64_t available_ns = 0;  // recorded response end
};

class SessionValues {
 public:
  SessionValues(std::size_t max_sessions, std::size_t max_values);

  // Stores a value for `session`; a value already stored for it is replaced (the latest
  // response that carried it is its producer).
  void add(std::uint64_t session, SessionValue v);

  // Calls f(value, encoded) for every value of `session` available at `request_ns` that occurs
  // in `text`: once with encoded false when it occurs as is, once with encoded true when its
  // percent-encoded form (where that differs) occurs — both when both do.
  template <typename F>
  void for_each_used(std::uint64_t session, std::int64_t request_ns, std::string_view text, F&& f) {
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;
    touch(it->second);
    for (const SessionValue& v : it->second.values) {
      if (v.available_ns > request_ns) continue;
      if (text.find(v.value) != std::string_view::npos) f(v, false);
      if (!v.encoded.empty() && text.find(v.encoded) != std::string_view::npos) f(v, true);
    }
  }

  std::uint64_t sessions_forgotten() const { return sessions_forgotten_; }
  std::uint64_t values_forgotten() const { return values_forgotten_; }

 private:
  struct Session {
    std::vector<SessionValue> values;  // oldest first
    std::list<std::uint64_t>::iterator lru;
  };
  void touch(Session& s);

  std::size_t max_sessions_, max_values_;
  std::unordered_map<std::uint64_t, Session> sessions_;
  std::list<std::uint64_t> lru_;  // least recently used first
  std::uint64_t sessions_forgotten_ = 0;
  std::uint64_t values_forgotten_ = 0;
};

}  // namespace reprise::replay
