#include "reprise/replay/cookie_jar.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>

#include "reprise/text.hpp"
#include "cookie_time.hpp"

namespace reprise::replay {
namespace {

using namespace cookie_time;

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// The request path without a query or fragment: callers hand us request targets often enough
// that cutting here is cheaper than a subtle mismatch later.
std::string_view path_only(std::string_view p) { return p.substr(0, p.find_first_of("?#")); }

// RFC 6265bis 5.6 step 3: a CTL other than HTAB makes the cookie unusable. Here it matters
// because the value is written into a request header (a CR or LF would split it).
bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

// IP literals never domain-match a suffix (5.1.3). An IPv6 literal holds ':' (bracketed or
// not); a name whose last label is all digits is taken as IPv4, the way URL parsers do, so
// "10.0.0.1" and its shorthand forms are both covered.
bool is_ip_address(std::string_view host) {
  if (host.find(':') != std::string_view::npos || (!host.empty() && host.front() == '[')) return true;
  const auto dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  return !last.empty() && std::all_of(last.begin(), last.end(), is_digit);
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > kNever - b) return kNever;
  if (b < 0 && a < kLongAgo - b) return kLongAgo;
  return a + b;
}

// Max-Age (5.2.2): an optional '-' then digits, else nullopt (the attribute is ignored). The
// result is the expiry; <= 0 seconds is "the earliest representable time".
std::optional<std::int64_t> max_age_expiry(std::string_view v, std::int64_t now) {
  if (v.empty() || !(is_digit(v.front()) || v.front() == '-')) return std::nullopt;
  const bool negative = v.front() == '-';
  const std::string_view digits = negative ? v.substr(1) : v;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) return std::nullopt;
  // Saturate at the last second int64 nanoseconds can hold (year 2262 from 1970): the multiply
  // below cannot overflow, and the sum saturates to "never".
  constexpr std::int64_t kCap = kNever / kNsPerSecond;
  std::int64_t seconds = 0;
  for (char c : digits) seconds = std::min(kCap, seconds * 10 + (c - '0'));
  if (negative || seconds == 0) return kLongAgo;
  return saturating_add(now, seconds * kNsPerSecond);
}

}  // namespace

bool domain_match(std::string_view host_in, std::string_view domain_in) {
  if (domain_in.empty()) return false;
  const std::string host = lower(host_in), domain = lower(domain_in);
  if (host == domain) return true;
  return host.size() > domain.size() && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.' && !is_ip_address(host);
}

bool path_match(std::string_view request_path, std::string_view cookie_path) {
  if (request_path == cookie_path) return true;
  if (!request_path.starts_with(cookie_path) || cookie_path.empty()) return false;
  return cookie_path.back() == '/' || request_path[cookie_path.size()] == '/';
}

std::string default_path(std::string_view request_path) {
  if (request_path.empty() || request_path.front() != '/') return "/";
  const auto last = request_path.rfind('/');
  if (last == 0) return "/";
  return std::string(request_path.substr(0, last));
}

namespace {

// Whether a cookie (or tombstone) scoped by domain/host_only/path is sent with a request for
// host/path (5.4 step 1, without the secure and http-only checks; see the header).
bool applies(std::string_view domain, bool host_only, std::string_view cookie_path,
             std::string_view host, std::string_view path) {
  const bool domain_ok = host_only ? domain == host : domain_match(host, domain);
  return domain_ok && path_match(path, cookie_path);
}

// 5.4 step 2: longer paths first, then earlier creation; the insertion sequence settles cookies
// created at the same instant (one response setting several).
bool sent_before(const Cookie* a, const Cookie* b) {
  if (a->path.size() != b->path.size()) return a->path.size() > b->path.size();
  if (a->creation_unix_ns != b->creation_unix_ns) return a->creation_unix_ns < b->creation_unix_ns;
  return a->order < b->order;
}

std::vector<const Cookie*> live_for(const std::vector<Cookie>& cookies, std::string_view host,
                                    std::string_view path, std::int64_t now) {
  std::vector<const Cookie*> out;
  for (const auto& c : cookies)
    if (c.expiry_unix_ns > now && applies(c.domain, c.host_only, c.path, host, path)) out.push_back(&c);
  std::sort(out.begin(), out.end(), sent_before);
  return out;
}

}  // namespace

CookieJar::CookieJar(CookieJarLimits limits) : limits_(limits) {}

bool CookieJar::set(std::string_view set_cookie, std::string_view host_in,
                    std::string_view request_path, std::int64_t now_unix_ns) {
  auto reject = [this] {
    ++counters_.rejected;
    return false;
  };
  if (set_cookie.size() > limits_.max_cookie_bytes) return reject();

  // 5.2 steps 1-5: the name-value pair.
  const auto semi = set_cookie.find(';');
  const std::string_view pair = set_cookie.substr(0, semi);
  std::string_view attributes = semi == std::string_view::npos ? std::string_view{} : set_cookie.substr(semi);
  const auto eq = pair.find('=');
  if (eq == std::string_view::npos) return reject();
  const std::string_view name = trim_ows(pair.substr(0, eq));
  const std::string_view value = trim_ows(pair.substr(eq + 1));
  if (name.empty() || has_ctl(name) || has_ctl(value)) return reject();

  const std::string host = lower(host_in);
  const std::string_view path = path_only(request_path);

  // 5.2 attributes: each kind keeps its last valid value; invalid ones leave the earlier value
  // standing (the RFC never appends them to the attribute list).
  std::optional<std::int64_t> max_age, expires;
  std::optional<std::string> domain_attr, path_attr;
  bool secure = false, http_only = false;
  while (!attributes.empty()) {
    attributes.remove_prefix(1);  // the ';'
    const auto next = attributes.find(';');
    const std::string_view av = attributes.substr(0, next);
    attributes = next == std::string_view::npos ? std::string_view{} : attributes.substr(next);
    const auto av_eq = av.find('=');
    const std::string_view key = trim_ows(av.substr(0, av_eq));
    const std::string_view val = av_eq == std::string_view::npos ? std::string_view{} : trim_ows(av.substr(av_eq + 1));
    if (iequals(key, "Expires")) {
      if (auto t = parse_cookie_date(val)) expires = t;
    } else if (iequals(key, "Max-Age")) {
      if (auto t = max_age_expiry(val, now_unix_ns)) max_age = t;
    } else if (iequals(key, "Domain")) {
      if (val.empty()) continue;  // 5.2.3: SHOULD ignore the cookie-av entirely
      domain_attr = lower(val.front() == '.' ? val.substr(1) : val);
    } else if (iequals(key, "Path")) {
      path_attr = (!val.empty() && val.front() == '/') ? std::string(val) : default_path(path);
    } else if (iequals(key, "Secure")) {
      secure = true;
    } else if (iequals(key, "HttpOnly")) {
      http_only = true;
    }
  }

  // 5.3 steps 2-9.
  Cookie c;
  c.name = std::string(name);
  c.value = std::string(value);
  c.persistent = max_age || expires;
  c.expiry_unix_ns = max_age ? *max_age : expires ? *expires : kNever;
  if (domain_attr && !domain_attr->empty()) {
    if (!domain_match(host, *domain_attr)) return reject();
    c.domain = std::move(*domain_attr);
    c.host_only = false;
  } else {
    c.domain = host;
    c.host_only = true;
  }
  c.path = path_attr ? std::move(*path_attr) : default_path(path);
  c.secure = secure;
  c.http_only = http_only;

  sweep_expired(now_unix_ns);
  auto same = std::find_if(cookies_.begin(), cookies_.end(), [&c](const Cookie& o) {
    return o.name == c.name && o.domain == c.domain && o.path == c.path;
  });

  if (c.expiry_unix_ns <= now_unix_ns) {
    // The server's way of deleting a cookie. Whether or not this jar held it, the recording
    // may carry it, so the tombstone is what makes rewrite() stop sending it.
    if (same != cookies_.end()) cookies_.erase(same);
    bury(c);
    ++counters_.deleted;
    return true;
  }

  std::erase_if(tombstones_, [&c](const Tombstone& t) {
    return t.name == c.name && t.domain == c.domain && t.path == c.path;
  });
  if (same != cookies_.end()) {
    // 5.3 step 11: the replacement keeps the old creation time, so its place in the Cookie
    // header does not move; the insertion sequence goes with it for the same reason.
    c.creation_unix_ns = same->creation_unix_ns;
    c.order = same->order;
    *same = std::move(c);
    ++counters_.replaced;
    return true;
  }
  c.creation_unix_ns = now_unix_ns;
  c.order = next_order_++;
  cookies_.push_back(std::move(c));
  ++counters_.stored;
  enforce_limits();
  return true;
}

void CookieJar::sweep_expired(std::int64_t now_unix_ns) {
  for (auto it = cookies_.begin(); it != cookies_.end();) {
    if (it->expiry_unix_ns > now_unix_ns) {
      ++it;
      continue;
    }
    bury(*it);
    ++counters_.expired;
    it = cookies_.erase(it);
  }
}

void CookieJar::bury(const Cookie& c) {
  auto same = std::find_if(tombstones_.begin(), tombstones_.end(), [&c](const Tombstone& t) {
    return t.name == c.name && t.domain == c.domain && t.path == c.path;
  });
  if (same != tombstones_.end()) {
    same->host_only = c.host_only;
    same->order = next_order_++;
    return;
  }
  tombstones_.push_back(Tombstone{c.name, c.domain, c.path, c.host_only, next_order_++});
  while (tombstones_.size() > limits_.max_tombstones) {
    tombstones_.erase(std::min_element(tombstones_.begin(), tombstones_.end(),
                                       [](const Tombstone& a, const Tombstone& b) { return a.order < b.order; }));
    ++counters_.forgotten;
  }
}

// 5.3 step 12 removes expired cookies before anything else; set() has just swept them, so
// what is left to pick from is the oldest live cookie. An evicted cookie leaves no tombstone:
// the limit is ours, not the server's word, so the recorded value is the better fallback.
void CookieJar::enforce_limits() {
  while (cookies_.size() > limits_.max_cookies) {
    cookies_.erase(std::min_element(cookies_.begin(), cookies_.end(), [](const Cookie& a, const Cookie& b) {
      return a.creation_unix_ns != b.creation_unix_ns ? a.creation_unix_ns < b.creation_unix_ns : a.order < b.order;
    }));
    ++counters_.evicted;
  }
}

std::string CookieJar::header_for(std::string_view host_in, std::string_view request_path,
                                  std::int64_t now_unix_ns) const {
  const std::string host = lower(host_in);
  std::string out;
  for (const Cookie* c : live_for(cookies_, host, path_only(request_path), now_unix_ns)) {
    if (!out.empty()) out += "; ";
    out += c->name;
    out += '=';
    out += c->value;
  }
  return out;
}

std::string CookieJar::rewrite(std::string_view recorded, std::string_view host_in,
                               std::string_view request_path, std::int64_t now_unix_ns) const {
  const std::string host = lower(host_in);
  const std::string_view path = path_only(request_path);
  const std::vector<const Cookie*> live = live_for(cookies_, host, path, now_unix_ns);
  if (cookies_.empty() && tombstones_.empty()) return std::string(recorded);

  // A name counts as deleted for this request when the server deleted it in a scope that
  // covers host/path, or set it in such a scope and it has since expired.
  auto deleted = [&](std::string_view name) {
    for (const auto& t : tombstones_)
      if (t.name == name && applies(t.domain, t.host_only, t.path, host, path)) return true;
    for (const auto& c : cookies_)
      if (c.name == name && c.expiry_unix_ns <= now_unix_ns && applies(c.domain, c.host_only, c.path, host, path))
        return true;
    return false;
  };

  std::vector<std::string> pairs;
  std::map<std::string_view, std::size_t> seen;  // occurrences of each name so far
  bool changed = false;
  std::string_view rest = recorded;
  while (true) {
    const auto semi = rest.find(';');
    const std::string_view pair = trim_ows(rest.substr(0, semi));
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) {
        pairs.emplace_back(pair);  // not a cookie pair we can name; pass it through
      } else {
        const std::string_view name = trim_ows(pair.substr(0, eq));
        const std::string_view value = trim_ows(pair.substr(eq + 1));
        // The k-th recorded pair of a name meets the k-th live cookie of that name in 5.4
        // order: the recording's browser sent its cookies in that same order.
        const std::size_t k = seen[name]++;
        std::size_t rank = 0;
        const Cookie* mine = nullptr;
        for (const Cookie* c : live)
          if (c->name == name && rank++ == k) {
            mine = c;
            break;
          }
        if (mine) {
          if (mine->value != value) changed = true;
          pairs.push_back(std::string(name) + "=" + mine->value);
        } else if (deleted(name)) {
          changed = true;
        } else {
          pairs.emplace_back(pair);
        }
      }
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  if (!changed) return std::string(recorded);

  std::string out;
  for (const auto& p : pairs) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

}  // namespace reprise::replay
