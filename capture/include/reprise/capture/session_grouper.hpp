#pragma once
// SessionGrouper: which recorded user an exchange belongs to, so that replay keeps a user's
// requests together and can clone whole users.
//
// Default (SessionKey::Linked) links three kinds of marks, in the order exchanges are written:
//   - a connection: requests on one connection share a session unless their marks say otherwise;
//   - session cookies: a cookie value that looks like an identifier (at least 8 characters,
//     letters and digits mixed — so `theme=dark` or `lang=en` never link strangers);
//   - bearer tokens (Authorization: Bearer …) by value.
// A request's own marks win over its connection; the first mark already known decides. Marks
// that a *response* sets (Set-Cookie with an identifier-like value) join the session of the
// request that received them, so a login belongs to the session that later sends its cookie.
// A connection without marks is its own session.
//
// Overrides: SessionKey::Cookie / Header group by one named cookie or header value (falling back
// to the connection when it is absent); SessionKey::ClientIp groups by client address (never the
// default: every user behind one NAT shares it).
//
// Session ids count from 1 in order of first appearance: the same input gives the same ids.
// Memory: at most `max_marks` marks are remembered (oldest forgotten first, counted).

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reprise/capture/http_exchange.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

enum class SessionKey : std::uint8_t { Linked, Cookie, Header, ClientIp };

struct SessionOptions {
  SessionKey key = SessionKey::Linked;
  std::string name;                 // the cookie or header name for Cookie / Header
  std::size_t max_marks = 1 << 20;  // remembered marks (connections, cookies, tokens)
};

struct SessionStats {
  std::uint64_t sessions = 0;         // ids handed out
  std::uint64_t linked_by_cookie = 0; // exchanges whose session came from a cookie or token
  std::uint64_t marks_forgotten = 0;  // marks dropped at the limit
};

// Parses "cookie:NAME", "header:NAME" or "client-ip" (the --session-key flag).
Result<SessionOptions> parse_session_key(std::string_view text);

// What of an exchange its session depends on, taken out of it by SessionGrouper::marks() so the
// exchange itself need not travel to the thread that assigns sessions.
struct SessionMarks {
  std::uint64_t connection_id = 0;
  std::vector<std::string> request;   // the request's marks, in header order
  std::vector<std::string> response;  // marks the response sets (Set-Cookie)
};

class SessionGrouper {
 public:
  explicit SessionGrouper(SessionOptions options = {});

  // The marks of `x` under these options. Pure: any thread may call it.
  SessionMarks marks(const HttpExchange& x) const;
  // The session of an exchange with these marks; learns them. Call in the order exchanges are
  // written.
  std::uint64_t assign(const SessionMarks& m);
  std::uint64_t assign(const HttpExchange& x) { return assign(marks(x)); }

  const SessionStats& stats() const { return stats_; }

  // True for values that look like identifiers rather than settings.
  static bool identifier_like(std::string_view value);

 private:
  std::uint64_t lookup(const std::string& mark);
  void remember(const std::string& mark, std::uint64_t session);
  void remember_connection(std::uint64_t connection, std::uint64_t session);

  SessionOptions options_;
  SessionStats stats_;
  // mark → (session, position in lru_); lru_ front is the most recently used mark.
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::pair<std::uint64_t, std::list<std::string>::iterator>> marks_;
  // Connections by id, kept apart from the string marks because every exchange has one: the
  // oldest connection seen is forgotten first (connection ids grow).
  std::unordered_map<std::uint64_t, std::uint64_t> connections_;
  std::deque<std::uint64_t> connection_order_;
};

// Cookie pairs of a Cookie header value ("a=1; b=2") and the pair a Set-Cookie value sets.
void for_each_cookie(std::string_view header, const std::function<void(std::string_view, std::string_view)>& f);
bool set_cookie_pair(std::string_view header, std::string_view& name, std::string_view& value);

}  // namespace reprise::capture
