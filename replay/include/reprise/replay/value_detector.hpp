#pragma once
// ValueDetector: finds the correlation rules a trace needs, before a replay. Sans-I/O: recorded
// exchanges in (trace order), rules out.
//
// A value is correlated when a response of a session carried it (candidate_values: it looks
// like an identifier, at a place detection watches) and a later request of the same session —
// one that started after that response ended — carries it too. The place's rule ("json:
// $.access_token", "cookie:csrftoken", ...) is then a detected rule. Values a Set-Cookie set
// and a later request sends back only in its Cookie header are the cookie jar's business, not a
// rule's.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reprise/replay/correlation_rule.hpp"

namespace reprise::replay {

class SessionValues;

struct DetectedRule {
  std::string rule;          // --correlate syntax
  std::uint64_t uses = 0;    // later requests that carried one of its values
  std::string example;       // one value, cut at 40 bytes
};

class ValueDetector {
 public:
  ValueDetector(TokenShape shape, std::size_t max_sessions, std::size_t max_values);
  ~ValueDetector();
  ValueDetector(const ValueDetector&) = delete;
  ValueDetector& operator=(const ValueDetector&) = delete;

  void observe(std::uint64_t session, std::int64_t request_ns, std::string_view request_wire,
               const ResponseView* response, std::int64_t response_end_ns);

  // The rules with at least one use, most used first.
  std::vector<DetectedRule> rules() const;
  std::uint64_t exchanges() const { return exchanges_; }
  std::uint64_t rules_dropped() const { return rules_dropped_; }  // candidates past kMaxRules

 private:
  TokenShape shape_;
  std::unique_ptr<SessionValues> values_;
  // Every candidate rule seen (uses may be 0), at most kMaxRules: a response with a new JSON
  // path per element would otherwise grow this without bound.
  static constexpr std::size_t kMaxRules = 10'000;
  std::vector<DetectedRule> rules_;
  std::unordered_map<std::string, std::uint32_t> index_;
  std::uint64_t rules_dropped_ = 0;
  std::uint64_t exchanges_ = 0;
};

}  // namespace reprise::replay
