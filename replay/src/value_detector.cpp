#include "reprise/replay/value_detector.hpp"

#include <algorithm>
#include <unordered_map>

#include "reprise/text.hpp"
#include "session_values.hpp"

namespace reprise::replay {
namespace {

// `wire` without its Cookie fields: where a cookie's value counts as a rule's use.
std::string without_cookie_fields(std::string_view wire) {
  std::string out;
  out.reserve(wire.size());
  const std::size_t head_end = wire.find("\r\n\r\n");
  std::size_t at = 0;
  while (at < wire.size()) {
    std::size_t end = wire.find("\r\n", at);
    end = end == std::string_view::npos ? wire.size() : end + 2;
    const std::string_view line = wire.substr(at, end - at);
    if (!(at <= head_end && line.size() > 7 && iequals(line.substr(0, 7), "cookie:"))) out += line;
    if (head_end != std::string_view::npos && end > head_end + 2) {
      out += wire.substr(end);
      break;
    }
    at = end;
  }
  return out;
}

}  // namespace

ValueDetector::ValueDetector(TokenShape shape, std::size_t max_sessions, std::size_t max_values)
    : shape_(shape), values_(std::make_unique<SessionValues>(max_sessions, max_values)) {}

ValueDetector::~ValueDetector() = default;

void ValueDetector::observe(std::uint64_t session, std::int64_t request_ns, std::string_view wire,
                            const ResponseView* response, std::int64_t response_end_ns) {
  ++exchanges_;
  std::string no_cookie;
  bool have_no_cookie = false;
  std::vector<std::uint32_t> counted;  // rules counted for this request
  values_->for_each_used(session, request_ns, wire, [&](const SessionValue& v, bool encoded) {
    DetectedRule& r = rules_[v.rule];
    if (r.rule.rfind("cookie:", 0) == 0) {
      if (!have_no_cookie) {
        no_cookie = without_cookie_fields(wire);
        have_no_cookie = true;
      }
      if (no_cookie.find(encoded ? v.encoded : v.value) == std::string::npos) return;
    }
    if (std::find(counted.begin(), counted.end(), v.rule) != counted.end()) return;
    counted.push_back(v.rule);
    ++r.uses;
    if (r.example.empty()) r.example = v.value.substr(0, 40);
  });
  if (response == nullptr) return;
  for (auto& c : candidate_values(*response, shape_)) {
    auto it = index_.find(c.rule);
    if (it == index_.end()) {
      if (rules_.size() >= kMaxRules) {
        ++rules_dropped_;
        continue;
      }
      it = index_.emplace(c.rule, static_cast<std::uint32_t>(rules_.size())).first;
      rules_.push_back({c.rule, 0, {}});
    }
    const std::uint32_t index = it->second;
    values_->add(session, {std::move(c.value), {}, 0, index, std::move(c.place), response_end_ns});
  }
}

std::vector<DetectedRule> ValueDetector::rules() const {
  std::vector<DetectedRule> used;
  for (const auto& r : rules_)
    if (r.uses > 0) used.push_back(r);
  std::stable_sort(used.begin(), used.end(),
                   [](const DetectedRule& a, const DetectedRule& b) { return a.uses > b.uses; });
  return used;
}

}  // namespace reprise::replay
