#include "reprise/replay/correlation_tracker.hpp"

#include "reprise/text.hpp"
#include "session_values.hpp"

namespace reprise::replay {

void request_host_path(std::string_view wire, std::string& host, std::string& path) {
  host.clear();
  path.clear();
  const auto line_end = wire.find("\r\n");
  const std::string_view line = wire.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 != std::string_view::npos && sp2 > sp1) {
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (const auto scheme = target.find("://"); scheme != std::string_view::npos) {
      const auto slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    path.assign(target.substr(0, target.find('?')));
  }
  if (line_end == std::string_view::npos) return;
  std::string_view rest = wire.substr(line_end + 2);
  while (!rest.empty() && rest.substr(0, 2) != "\r\n") {
    const auto end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    const auto colon = field.find(':');
    if (colon != std::string_view::npos && iequals(field.substr(0, colon), "host")) {
      std::string_view h = trim_ows(field.substr(colon + 1));
      if (!h.empty() && h.front() == '[') {
        h = h.substr(1, h.find(']') - 1);
      } else if (const auto c = h.rfind(':'); c != std::string_view::npos) {
        h = h.substr(0, c);
      }
      host.assign(h);
      return;
    }
    if (end == std::string_view::npos) return;
    rest.remove_prefix(end + 2);
  }
}

namespace {

// The value of the first field `name` in the head of `wire` is present.
bool has_field(std::string_view wire, std::string_view name) {
  const std::string_view head = wire.substr(0, wire.find("\r\n\r\n"));
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos) {
    const std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
    if (line.size() > name.size() && line[name.size()] == ':' && iequals(line.substr(0, name.size()), name))
      return true;
    at = head.find("\r\n", at + 2);
  }
  return false;
}

}  // namespace

CorrelationTracker::CorrelationTracker(const CorrelationSettings& settings)
    : settings_(settings),
      values_(std::make_unique<SessionValues>(settings.max_tracked_sessions,
                                              settings.max_values_per_session)) {}

CorrelationTracker::~CorrelationTracker() = default;

std::shared_ptr<const RequestCorrelation> CorrelationTracker::observe(
    std::uint64_t session, std::uint64_t exchange, std::int64_t request_ns, std::string_view wire,
    const ResponseView* response, std::int64_t response_end_ns) {
  if (!settings_.enabled) return nullptr;
  auto c = std::make_shared<RequestCorrelation>();
  values_->for_each_used(session, request_ns, wire, [&](const SessionValue& v, bool encoded) {
    c->needs.push_back({v.producer, v.rule, v.place, v.value, encoded});
  });
  stats_.needs += c->needs.size();
  if (response != nullptr && !settings_.rules.empty()) {
    auto found = extract_values(settings_.rules, *response, settings_.max_values_per_session);
    c->producer = !found.empty();
    if (c->producer) ++stats_.producers;
    stats_.values_found += found.size();
    for (auto& f : found)
      values_->add(session, {std::move(f.value), {}, exchange, f.rule, std::move(f.place), response_end_ns});
  }
  const std::string_view head = wire.substr(0, wire.find("\r\n\r\n"));
  c->clone_placeholder = head.find("{clone}") != std::string_view::npos;
  for (const auto& r : settings_.clone_rewrites) {
    const bool present = r.field == CloneField::Header   ? has_field(wire, r.name)
                         : r.field == CloneField::Cookie ? has_field(wire, "cookie")
                                                         : head.substr(0, head.find("\r\n")).find('?') != std::string_view::npos;
    c->clone_fields = c->clone_fields || present;
  }
  c->cookie_header = has_field(wire, "cookie");
  // The jar learns from every response, so every request needs its host and path.
  request_host_path(wire, c->host, c->path);
  return c;
}

TrackerStats CorrelationTracker::stats() const {
  TrackerStats s = stats_;
  s.sessions_forgotten = values_->sessions_forgotten();
  s.values_forgotten = values_->values_forgotten();
  return s;
}

}  // namespace reprise::replay
