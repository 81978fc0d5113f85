#pragma once
// CookieJar: the cookies one replayed session clone has been given, stored per RFC 6265 section
// 5.3, and what that clone sends back. A recorded session carries the Cookie headers the
// recording's browser sent; when the replay target answers with Set-Cookie (a new session id
// after a login, a rotated CSRF token), the clone must send the target's values instead, or every
// request after the login is replayed with a session the target never issued.
//
// Sans-I/O: Set-Cookie values, the request's host and path and the time go in; a Cookie header
// comes out. Time is passed in as unix nanoseconds (Expires dates are absolute, so the replay
// clock has to be a real wall-clock reading, not a time since start).
//
// Departures from a browser, on purpose:
//   - Secure cookies are stored and sent regardless of scheme: the replay target is often plain
//     http while the recording was made over https, and the clone must still log in.
//   - HttpOnly is stored but changes nothing: every cookie here travels over HTTP.
//   - No public suffix list (5.3 step 5): a clone talks to one site, so a cookie scoped to
//     "Domain=com" can only reach that site's own hosts anyway.
//   - Cookies whose name or value hold a control character other than HTAB are ignored
//     (RFC 6265bis 5.6): the value is copied into a request header we send.
//   - The limits are per jar, not per domain, and eviction picks the oldest *created* cookie
//     (5.3 step 12 suggests the oldest last-access; reads are const here and a clone holds few
//     cookies, so creation order is the proxy).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reprise::replay {

// One stored cookie, the fields of RFC 6265 5.3 (last-access-time is not kept, see above).
struct Cookie {
  std::string name;
  std::string value;
  std::string domain;  // lower case, no leading dot; the request host when host_only
  std::string path;    // the Path attribute, or default_path() of the request that set it
  bool host_only = true;     // no Domain attribute: sent to exactly `domain`, not its subdomains
  bool secure = false;       // stored, not enforced (see above)
  bool http_only = false;
  bool persistent = false;   // had a valid Max-Age or Expires
  std::int64_t expiry_unix_ns = 0;    // INT64_MAX for session cookies
  std::int64_t creation_unix_ns = 0;  // kept when a cookie of the same name/domain/path replaces it
  std::uint64_t order = 0;            // insertion sequence; breaks ties of equal creation times
};

// Every buffer has a limit. Defaults follow RFC 6265 6.1's minimum capabilities (4096 bytes per
// cookie, 50 per domain), applied per jar.
struct CookieJarLimits {
  std::size_t max_cookies = 50;         // past this the oldest-created live cookie is evicted
  std::size_t max_cookie_bytes = 4096;  // a Set-Cookie value longer than this (whole field value,
                                        // name + value + attributes) is rejected
  std::size_t max_tombstones = 50;      // deletions remembered; past this the oldest is forgotten
};

class CookieJar {
 public:
  explicit CookieJar(CookieJarLimits limits = {});

  // One Set-Cookie field value received in answer to a request for `host` (the Host the request
  // was sent with, port stripped; compared case-insensitively; an IPv4 or IPv6 literal, with or
  // without brackets, only ever matches itself) and `request_path` (the path of the request
  // target; anything from a '?' on is ignored).
  //
  // Parsing follows 5.2: the name-value pair is the text before the first ';' and must hold an
  // '=' and a non-empty name; both are trimmed of spaces and tabs. Attribute names are matched
  // case-insensitively, unknown attributes are ignored, and the last valid attribute of a kind
  // wins. Expires is read with parse_cookie_date() and ignored when it does not parse; Max-Age
  // must be an optional '-' and digits, else ignored, and takes precedence over Expires; a value
  // <= 0 means "expired now". Domain drops one leading '.', is lower-cased, and must
  // domain-match `host` (else the whole cookie is ignored); without it (or with an empty one)
  // the cookie is host-only. Path without a leading '/' (or absent) becomes default_path().
  //
  // Storage follows 5.3: a cookie with the same (name, domain, path) is replaced and its
  // creation time kept. A cookie whose expiry is not after `now_unix_ns` deletes the stored one
  // and leaves a tombstone for that (name, domain, path), so rewrite() drops the recorded value
  // too; setting the cookie again clears the tombstone. Before storing, cookies that expired
  // by `now_unix_ns` are swept into tombstones as well (5.3: expired cookies are evicted).
  //
  // Returns false when the value is ignored (no '=', empty name, control characters, Domain not
  // domain-matching the host, longer than max_cookie_bytes); counted as `rejected`. A deletion
  // is not ignored and returns true.
  bool set(std::string_view set_cookie, std::string_view host, std::string_view request_path,
           std::int64_t now_unix_ns);

  // The Cookie header a replayed request should carry instead of `recorded` (the recorded
  // Cookie field value). `recorded` is split at ';' into name=value pairs, trimmed. For a name
  // the jar holds live cookies of for host/path (domain-match, path-match, not expired), the
  // k-th recorded pair of that name gets the value of the k-th such cookie in 5.4 order (the
  // order the recording's browser sent them in). A pair with no live cookie left for it is
  // dropped when a deletion applies to host/path for that name (a tombstone, or a jar cookie
  // that has expired by `now_unix_ns`: the target set it for this clone, so the recorded value
  // is stale and a browser would send nothing). Every other pair is kept as recorded: cookies
  // the target never set in this replay (set by JavaScript, by another host, or before the
  // recording started) are still needed. Cookies the jar holds that the recording did not send
  // are not added: the recording says which cookies the request carried.
  //
  // Order is kept and pairs are joined with "; ". When no pair changes value and none is
  // dropped, `recorded` is returned byte for byte. "" when every pair was dropped.
  std::string rewrite(std::string_view recorded, std::string_view host,
                      std::string_view request_path, std::int64_t now_unix_ns) const;

  // The jar's live cookies for host/path in 5.4 order (longer paths first, then earlier
  // creation, then insertion): "a=1; b=2", "" when none. What a browser holding only this jar
  // would send.
  std::string header_for(std::string_view host, std::string_view request_path,
                         std::int64_t now_unix_ns) const;

  // Stored cookies, live or expired-but-not-yet-swept, in no particular order.
  const std::vector<Cookie>& cookies() const { return cookies_; }
  std::size_t size() const { return cookies_.size(); }
  // Neither cookies nor deletions: rewrite() returns every recorded header unchanged.
  bool empty() const { return cookies_.empty() && tombstones_.empty(); }

  struct Counters {
    std::uint64_t stored = 0;      // new cookies added
    std::uint64_t replaced = 0;    // cookies that replaced one of the same name/domain/path
    std::uint64_t rejected = 0;    // Set-Cookie values ignored (set() returned false)
    std::uint64_t evicted = 0;     // live cookies removed by max_cookies
    std::uint64_t deleted = 0;     // Set-Cookie values that deleted (expiry not after now)
    std::uint64_t expired = 0;     // stored cookies swept because their expiry passed
    std::uint64_t forgotten = 0;   // tombstones dropped by max_tombstones
  };
  const Counters& counters() const { return counters_; }

 private:
  // A deleted (name, domain, path), scoped like the cookie it deleted.
  struct Tombstone {
    std::string name, domain, path;
    bool host_only = true;
    std::uint64_t order = 0;
  };

  void sweep_expired(std::int64_t now_unix_ns);
  void bury(const Cookie& c);
  void enforce_limits();

  CookieJarLimits limits_;
  std::vector<Cookie> cookies_;
  std::vector<Tombstone> tombstones_;
  std::uint64_t next_order_ = 0;
  Counters counters_;
};

// RFC 6265 5.1.3: `host` (canonicalized: lower case) equals `domain`, or ends with "." + domain
// while `host` is a host name and not an IP address. Compared case-insensitively.
bool domain_match(std::string_view host, std::string_view domain);

// RFC 6265 5.1.4: the paths are equal, or `cookie_path` is a prefix of `request_path` that ends
// with '/' or is followed in `request_path` by '/'. Case-sensitive.
bool path_match(std::string_view request_path, std::string_view cookie_path);

// RFC 6265 5.1.4: "/" when `request_path` is empty, does not start with '/' or holds one '/'
// only; otherwise everything before its right-most '/'.
std::string default_path(std::string_view request_path);

// RFC 6265 5.1.1: a cookie date ("Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37
// GMT", "Sun Nov  6 08:49:37 1994", and whatever else the token algorithm accepts) as unix
// nanoseconds, UTC. Two-digit years 70-99 are 19xx, 0-69 are 20xx. nullopt when a time,
// day-of-month, month or year is missing, a field is out of range (day 1-31, year >= 1601,
// 23:59:59) or the date does not exist (31 Apr). Dates outside the int64 nanosecond range
// (before 1677-09-21, after 2262-04-11) are clamped to INT64_MIN / INT64_MAX: "long past" and
// "never" are all a jar needs of them.
std::optional<std::int64_t> parse_cookie_date(std::string_view text);

}  // namespace reprise::replay
