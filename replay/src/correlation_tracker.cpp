#include "reprise/replay/correlation_tracker.hpp"

#include "reprise/replay/schedule.hpp"
#include "reprise/text.hpp"
#include "session_values.hpp"

namespace reprise::replay {

namespace {

// One pass over a request as sent: the path of its target, then f(name, value) for each field
// of its head.
template <typename F>
std::string_view path_and_fields(std::string_view wire, F&& f) {
  const auto line_end = wire.find("\r\n");
  const std::string_view line = wire.substr(0, line_end);
  std::string_view path;
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 != std::string_view::npos && sp2 > sp1) {
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (const auto scheme = target.find("://"); scheme != std::string_view::npos) {
      const auto slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    path = target.substr(0, target.find('?'));
  }
  if (line_end == std::string_view::npos) return path;
  std::string_view rest = wire.substr(line_end + 2);
  while (!rest.empty() && rest.substr(0, 2) != "\r\n") {
    const auto end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    if (const auto colon = field.find(':'); colon != std::string_view::npos)
      f(field.substr(0, colon), trim_ows(field.substr(colon + 1)));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
  return path;
}

// A Host value without its port ("[::1]:8080" -> "::1").
std::string_view host_only(std::string_view h) {
  if (!h.empty() && h.front() == '[') return h.substr(1, h.find(']') - 1);
  if (const auto c = h.rfind(':'); c != std::string_view::npos) return h.substr(0, c);
  return h;
}

}  // namespace

void attach_correlation(TraceRequest& r, std::shared_ptr<const RequestCorrelation> c) {
  r.producer = c != nullptr && c->producer;
  r.clone_invariant = c == nullptr || c->clone_invariant();
  r.correlation = std::move(c);
}

void request_host_path(std::string_view wire, std::string& host, std::string& path) {
  host.clear();
  bool found = false;
  path.assign(path_and_fields(wire, [&](std::string_view name, std::string_view value) {
    if (!found && iequals(name, "host")) {
      host.assign(host_only(value));
      found = true;
    }
  }));
}

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
  if (response != nullptr && reads_responses()) {
    auto found = extract_values(settings_.rules, *response, settings_.max_values_per_session);
    c->producer = !found.empty();
    if (c->producer) ++stats_.producers;
    stats_.values_found += found.size();
    for (auto& f : found) {
      // Only identifiers are followed, whatever rule found them: a short or plain value ("1",
      // "cart") occurs everywhere, and replacing it would rewrite "HTTP/1.1" or Content-Length.
      if (!looks_like_token(f.value, settings_.shape)) {
        ++stats_.values_not_identifiers;
        continue;
      }
      values_->add(session, {std::move(f.value), {}, exchange, f.rule, std::move(f.place), response_end_ns});
    }
  }
  const std::string_view head = wire.substr(0, wire.find("\r\n\r\n"));
  c->clone_placeholder = head.find("{clone}") != std::string_view::npos;
  // The jar learns from every response, so every request needs its host and path; the clone
  // rewrites need to know which of their fields it carries. One pass over the head for all.
  bool host = false;
  c->path.assign(path_and_fields(wire, [&](std::string_view name, std::string_view value) {
    if (!host && iequals(name, "host")) {
      c->host.assign(host_only(value));
      host = true;
    }
    if (iequals(name, "cookie")) c->cookie_header = true;
    for (const auto& r : settings_.clone_rewrites)
      if (r.field == CloneField::Header && iequals(name, r.name)) c->clone_fields = true;
  }));
  for (const auto& r : settings_.clone_rewrites) {
    if (r.field == CloneField::Cookie && c->cookie_header) c->clone_fields = true;
    if (r.field == CloneField::Query && head.substr(0, head.find("\r\n")).find('?') != std::string_view::npos)
      c->clone_fields = true;
  }
  return c;
}

TrackerStats CorrelationTracker::stats() const {
  TrackerStats s = stats_;
  s.sessions_forgotten = values_->sessions_forgotten();
  s.values_forgotten = values_->values_forgotten();
  return s;
}

}  // namespace reprise::replay
