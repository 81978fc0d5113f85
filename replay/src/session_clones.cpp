#include "reprise/replay/session_clones.hpp"

#include <algorithm>

#include "reprise/replay/clone_rewrite.hpp"
#include "reprise/replay/engine.hpp"
#include "reprise/text.hpp"
#include "session_values.hpp"

namespace reprise::replay {
namespace {

// Replaces every occurrence of `what` in `text`; the number replaced.
std::size_t replace_all(std::string& text, std::string_view what, std::string_view with) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
    ++n;
  }
  return n;
}

// The head's lines (request line first), without their CRLF.
std::vector<std::string> split_lines(std::string_view head) {
  std::vector<std::string> lines;
  while (!head.empty()) {
    const auto end = head.find("\r\n");
    lines.emplace_back(head.substr(0, end));
    if (end == std::string_view::npos) break;
    head.remove_prefix(end + 2);
  }
  return lines;
}

// "Name: value" -> value, when the field is `name`.
bool field_value(const std::string& line, std::string_view name, std::string_view& value) {
  if (line.size() <= name.size() || line[name.size()] != ':' ||
      !iequals(std::string_view(line).substr(0, name.size()), name))
    return false;
  value = trim_ows(std::string_view(line).substr(name.size() + 1));
  return true;
}

// Applies f(name, value) -> new value to each "name=value" pair of a list separated by `sep`
// ("; " in a Cookie header, "&" in a query); pairs f leaves alone are kept byte for byte.
template <typename F>
std::string map_pairs(std::string_view list, char sep, F&& f) {
  std::string out;
  out.reserve(list.size());
  while (true) {
    const auto end = list.find(sep);
    std::string_view item = list.substr(0, end);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos) {
      const std::string_view name = trim_ows(item.substr(0, eq));
      const std::string_view value = item.substr(eq + 1);
      std::string replaced;
      if (f(name, value, replaced)) {
        out.append(item.substr(0, eq + 1));
        out += replaced;
      } else {
        out += item;
      }
    } else {
      out += item;
    }
    if (end == std::string_view::npos) break;
    out += sep;
    list.remove_prefix(end + 1);
  }
  return out;
}

// `text`, the request's host or path, as clone `clone` sends it: "{clone}" put there by
// --set-header, --host-header or --rewrite-path expanded (the jar matches cookies against what
// the target saw). `buffer` holds the expanded copy when there is one.
std::string_view as_sent(const std::string& text, std::uint32_t clone, std::string& buffer) {
  if (text.find("{clone}") == std::string::npos) return text;
  buffer = text;
  expand_clone_placeholder(buffer, clone);
  return buffer;
}

}  // namespace

SessionClones::SessionClones(const CorrelationSettings& settings)
    : settings_(settings), rules_(new RuleCounters[std::max<std::size_t>(1, settings.rules.size())]) {}

SessionClones::Clone* SessionClones::find(std::uint64_t key) {
  auto it = clones_.find(key);
  if (it == clones_.end()) return nullptr;
  lru_.splice(lru_.end(), lru_, it->second.lru);
  return &it->second;
}

SessionClones::Clone& SessionClones::get(std::uint64_t key) {
  if (Clone* c = find(key)) return *c;
  if (clones_.size() >= std::max<std::size_t>(1, settings_.max_clones)) forget_oldest();
  Clone& c = clones_[key];
  c.lru = lru_.insert(lru_.end(), key);
  return c;
}

void SessionClones::forget_oldest() {
  const auto it = clones_.find(lru_.front());
  bytes_ -= it->second.bytes;
  clones_.erase(it);
  lru_.pop_front();
  ++jar_.clones_forgotten;
}

void SessionClones::account(Clone& c) {
  // Approximate: the strings' bytes and a fixed overhead per element.
  constexpr std::size_t kOverhead = 64;
  std::size_t n = sizeof(Clone) + c.in_flight.size() * sizeof(std::uint64_t);
  for (const Learned& l : c.values) n += kOverhead + l.place.size() + l.value.size();
  for (const Cookie& k : c.jar.cookies())
    n += kOverhead + k.name.size() + k.value.size() + k.domain.size() + k.path.size();
  bytes_ = bytes_ - c.bytes + n;
  c.bytes = n;
  while (bytes_ > settings_.max_clone_bytes && lru_.size() > 1 && lru_.front() != *c.lru) forget_oldest();
}

void SessionClones::expect(std::uint64_t clone_key, std::uint64_t exchange) {
  get(clone_key).in_flight.push_back(exchange);
}

SessionClones::Prepared SessionClones::prepare(const ScheduledRequest& r, bool give_up,
                                               std::int64_t unix_now_ns) {
  Prepared out;
  out.wire = r.request.wire;
  const RequestCorrelation* c = r.request.correlation.get();
  // Nothing in it differs between clones: sent as recorded, without a lookup.
  if (c == nullptr || r.request.clone_invariant) return out;
  Clone* clone = find(r.session_key());
  auto learned = [&](const Need& need) -> const std::string* {
    if (clone == nullptr) return nullptr;
    for (const Learned& l : clone->values)
      if (l.producer == need.producer && l.rule == need.rule && l.place == need.place) return &l.value;
    return nullptr;
  };
  auto in_flight = [&](const Need& need) {
    return clone != nullptr && std::find(clone->in_flight.begin(), clone->in_flight.end(),
                                         need.producer) != clone->in_flight.end();
  };
  // A wait comes first: the request is prepared again when it ends, and counts then.
  if (!give_up)
    for (const Need& need : c->needs)
      if (learned(need) == nullptr && in_flight(need)) {
        if ((r.correlation_flags & kWaited) == 0) ++rules_[need.rule].waits;  // a request counts once
        out.wait = true;
        out.producer = need.producer;
        return out;
      }
  // The clone's latest value of the need's kind (rule and place) from another answer: its
  // login's token when the refresh that rotates it failed. Better than the recorded value,
  // which is another user's (or an expired one).
  auto own_latest = [&](const Need& need) -> const std::string* {
    if (clone == nullptr) return nullptr;
    for (auto it = clone->values.rbegin(); it != clone->values.rend(); ++it)  // newest first
      if (it->rule == need.rule && it->place == need.place) return &it->value;
    return nullptr;
  };
  std::vector<std::pair<const Need*, const std::string*>> substitutions;
  for (const Need& need : c->needs) {
    if (const std::string* value = learned(need)) {
      substitutions.emplace_back(&need, value);
      continue;
    }
    if (in_flight(need)) {
      ++rules_[need.rule].timeouts;
      out.flags |= kTimedOut;
    } else {
      ++rules_[need.rule].misses;
      out.flags |= kMissed;
    }
    if (const std::string* own = own_latest(need)) substitutions.emplace_back(&need, own);
  }
  // Longest first: a recorded value inside another (a user id inside a signed session token)
  // must not be replaced within it before the longer one is.
  std::stable_sort(substitutions.begin(), substitutions.end(), [](const auto& a, const auto& b) {
    return a.first->recorded.size() > b.first->recorded.size();
  });
  const bool jar = c->cookie_header && clone != nullptr && !clone->jar.empty();
  if (substitutions.empty() && !c->clone_placeholder && !c->clone_fields && !jar) return out;
  out.wire = std::make_shared<const std::string>(build(r, clone, substitutions, unix_now_ns, out.flags));
  return out;
}

std::string SessionClones::build(const ScheduledRequest& r, Clone* clone,
                                 const std::vector<std::pair<const Need*, const std::string*>>& substitutions,
                                 std::int64_t unix_now_ns, std::uint8_t& flags) {
  const RequestCorrelation& c = *r.request.correlation;
  const std::string& wire = *r.request.wire;
  const auto head_end = wire.find("\r\n\r\n");
  std::string head = wire.substr(0, head_end);
  std::string body = head_end == std::string::npos ? std::string() : wire.substr(head_end + 4);
  const std::size_t recorded_body = body.size();

  for (const auto& [need, value] : substitutions) {  // longest first (prepare())
    const std::string from = need->encoded ? percent_encode(need->recorded) : need->recorded;
    const std::string to = need->encoded ? percent_encode(*value) : *value;
    const std::size_t n = replace_all(head, from, to) + replace_all(body, from, to);
    rules_[need->rule].substituted += n;
    if (n > 0) flags |= kSubstituted;
  }
  if (c.clone_placeholder) expand_clone_placeholder(head, r.clone);

  std::vector<std::string> lines = split_lines(head);
  std::string_view value;
  for (const CloneRewrite& rw : settings_.clone_rewrites) {
    auto rewrite_pair = [&](std::string_view name, std::string_view v, std::string& replaced) {
      if (name != rw.name) return false;
      replaced = rw.value_for(v, r.clone);
      return true;
    };
    if (rw.field == CloneField::Query && !lines.empty()) {
      std::string& line = lines[0];
      const auto q = line.find('?');
      const auto sp = line.rfind(' ');
      if (q != std::string::npos && sp != std::string::npos && q < sp)
        line = line.substr(0, q + 1) + map_pairs(std::string_view(line).substr(q + 1, sp - q - 1), '&', rewrite_pair) +
               line.substr(sp);
      continue;
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
      std::string& line = lines[i];
      if (rw.field == CloneField::Header && field_value(line, rw.name, value)) {
        line = line.substr(0, rw.name.size()) + ": " + rw.value_for(value, r.clone);
      } else if (rw.field == CloneField::Cookie && field_value(line, "cookie", value)) {
        line = line.substr(0, 6) + ": " + map_pairs(value, ';', rewrite_pair);
      }
    }
  }

  if (clone != nullptr && !clone->jar.empty()) {
    std::string host_buffer, path_buffer;
    const std::string_view host = as_sent(c.host, r.clone, host_buffer);
    const std::string_view path = as_sent(c.path, r.clone, path_buffer);
    for (auto it = lines.begin() + (lines.empty() ? 0 : 1); it != lines.end();) {
      if (!field_value(*it, "cookie", value)) {
        ++it;
        continue;
      }
      const std::string sent = clone->jar.rewrite(value, host, path, unix_now_ns);
      if (sent != value) {
        ++jar_.headers_rewritten;
        flags |= kJarCookies;
      }
      if (sent.empty()) {
        it = lines.erase(it);
        continue;
      }
      *it = it->substr(0, 6) + ": " + sent;
      ++it;
    }
  }

  std::string out;
  out.reserve(wire.size() + 64);
  for (const auto& line : lines) {
    if (body.size() != recorded_body && field_value(line, "content-length", value)) {
      out += line.substr(0, 14) + ": " + std::to_string(body.size()) + "\r\n";
      continue;
    }
    out += line;
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

CorrelationTotals SessionClones::totals() const {
  CorrelationTotals t;
  for (std::size_t k = 0; k < settings_.rules.size(); ++k) {
    const RuleCounters& c = rules_[k];
    t.rules.push_back({settings_.rules[k].text, settings_.rules[k].automatic, c.learned, c.substituted,
                       c.waits, c.timeouts, c.misses, c.rejected});
  }
  t.cookies_set = jar_.cookies_set;
  t.cookies_rejected = jar_.cookies_rejected;
  t.cookie_headers_rewritten = jar_.headers_rewritten;
  t.clones_forgotten = jar_.clones_forgotten;
  t.values_forgotten = jar_.values_forgotten;
  return t;
}

void SessionClones::received(const EngineOutcome& o, std::int64_t unix_now_ns) {
  if (o.correlation == nullptr) return;
  const bool ok = o.facts.error == OutcomeError::None && o.facts.status != 0;
  const auto& headers = o.headers;
  const bool sets_cookies = ok && std::any_of(headers.begin(), headers.end(), [](const auto& h) {
    return iequals(h.first, "set-cookie");
  });
  if (!o.producer && !sets_cookies) return;  // nothing for the clone to learn
  const RequestCorrelation* c = o.correlation.get();
  Clone* clone = &get(session_clone_key(o.session_id, o.clone, o.iteration));
  if (o.producer) {
    auto& pending = clone->in_flight;
    if (auto it = std::find(pending.begin(), pending.end(), o.exchange_id); it != pending.end())
      pending.erase(it);
  }
  if (!ok) return;
  std::string host_buffer, path_buffer;
  const std::string_view host = as_sent(c->host, o.clone, host_buffer);
  const std::string_view path = as_sent(c->path, o.clone, path_buffer);
  for (const auto& [name, value] : headers) {
    if (!iequals(name, "set-cookie")) continue;
    if (clone->jar.set(value, host, path, unix_now_ns)) ++jar_.cookies_set;
    else ++jar_.cookies_rejected;
  }
  if (o.producer) learn(*clone, o);
  account(*clone);
}

void SessionClones::learn(Clone& clone, const EngineOutcome& o) {
  const std::string_view body(reinterpret_cast<const char*>(o.body.data()), o.body.size());
  const std::uint64_t exchange = o.exchange_id;
  const auto& headers = o.headers;
  ResponseView view;
  view.body = body;
  for (const auto& [name, value] : headers) view.headers.emplace_back(name, value);
  for (auto& f : extract_values(settings_.rules, view, settings_.max_values_per_session)) {
    // Written into a request head as is: a value with CR, LF or NUL would split it. And no
    // credential is kilobytes long: such a value is a document, not something to follow.
    if (f.value.size() > settings_.max_value_bytes ||
        std::any_of(f.value.begin(), f.value.end(), [](char ch) {
          const auto byte = static_cast<unsigned char>(ch);
          return byte < ' ' || byte == 0x7f;
        })) {
      ++rules_[f.rule].rejected;
      continue;
    }
    ++rules_[f.rule].learned;
    auto& values = clone.values;
    values.erase(std::remove_if(values.begin(), values.end(),
                                [&](const Learned& l) {
                                  return l.producer == exchange && l.rule == f.rule && l.place == f.place;
                                }),
                 values.end());
    if (values.size() >= std::max<std::size_t>(1, settings_.max_values_per_session)) {
      values.erase(oldest_of_largest_rule(values, [](const Learned& l) { return l.rule; }));
      ++jar_.values_forgotten;
    }
    values.push_back({exchange, f.rule, std::move(f.place), std::move(f.value)});
  }
}

}  // namespace reprise::replay
