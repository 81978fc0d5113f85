#include "reprise/capture/session_grouper.hpp"

#include <arpa/inet.h>

#include "reprise/capture/error.hpp"
#include "reprise/text.hpp"

namespace reprise::capture {
namespace {

std::string client_address(const IpEndpoint& e) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (e.family == 4) ::inet_ntop(AF_INET, e.address.data() + 12, text, sizeof text);
  else ::inet_ntop(AF_INET6, e.address.data(), text, sizeof text);
  return text;
}

}  // namespace

void for_each_cookie(std::string_view header,
                     const std::function<void(std::string_view, std::string_view)>& f) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    const auto pair = trim_ows(header.substr(0, semi));
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos) f(trim_ows(pair.substr(0, eq)), trim_ows(pair.substr(eq + 1)));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
}

bool set_cookie_pair(std::string_view header, std::string_view& name, std::string_view& value) {
  const auto pair = trim_ows(header.substr(0, header.find(';')));
  const auto eq = pair.find('=');
  if (eq == std::string_view::npos) return false;
  name = trim_ows(pair.substr(0, eq));
  value = trim_ows(pair.substr(eq + 1));
  return !name.empty();
}

Result<SessionOptions> parse_session_key(std::string_view text) {
  SessionOptions o;
  if (text == "client-ip") {
    o.key = SessionKey::ClientIp;
    return o;
  }
  const auto colon = text.find(':');
  if (colon != std::string_view::npos && colon + 1 < text.size()) {
    const auto kind = text.substr(0, colon);
    o.name = std::string(text.substr(colon + 1));
    if (kind == "cookie") {
      o.key = SessionKey::Cookie;
      return o;
    }
    if (kind == "header") {
      o.key = SessionKey::Header;
      return o;
    }
  }
  return fail(errc::bad_option, "--session-key",
              "'" + std::string(text) + "': use cookie:NAME, header:NAME or client-ip");
}

bool SessionGrouper::identifier_like(std::string_view v) {
  if (v.size() < 8) return false;
  bool letter = false, digit = false;
  for (char c : v) {
    if (c >= '0' && c <= '9') digit = true;
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) letter = true;
  }
  return letter && digit;
}

SessionGrouper::SessionGrouper(SessionOptions options) : options_(std::move(options)) {}

std::uint64_t SessionGrouper::lookup(const std::string& mark) {
  auto it = marks_.find(mark);
  if (it == marks_.end()) return 0;
  lru_.splice(lru_.begin(), lru_, it->second.second);
  return it->second.first;
}

void SessionGrouper::remember(const std::string& mark, std::uint64_t session) {
  auto it = marks_.find(mark);
  if (it != marks_.end()) {
    it->second.first = session;
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return;
  }
  if (marks_.size() >= options_.max_marks && !lru_.empty()) {
    marks_.erase(lru_.back());
    lru_.pop_back();
    ++stats_.marks_forgotten;
  }
  lru_.push_front(mark);
  marks_.emplace(mark, std::make_pair(session, lru_.begin()));
}

void SessionGrouper::remember_connection(std::uint64_t connection, std::uint64_t session) {
  auto [it, inserted] = connections_.try_emplace(connection, session);
  if (!inserted) {
    it->second = session;
    return;
  }
  connection_order_.push_back(connection);
  if (connection_order_.size() > options_.max_marks) {
    connections_.erase(connection_order_.front());
    connection_order_.pop_front();
    ++stats_.marks_forgotten;
  }
}

SessionMarks SessionGrouper::marks(const HttpExchange& x) const {
  SessionMarks m;
  m.connection_id = x.connection_id;
  if (options_.key == SessionKey::ClientIp) {
    m.request.push_back("ip:" + client_address(x.client));
    return m;
  }
  for (const auto& [name, value] : x.request.headers) {
    switch (options_.key) {
      case SessionKey::Linked:
        if (iequals(name, "Cookie")) {
          for_each_cookie(value, [&](std::string_view n, std::string_view v) {
            if (identifier_like(v)) m.request.push_back("k:" + std::string(n) + "=" + std::string(v));
          });
        } else if (iequals(name, "Authorization") && value.size() > 7 &&
                   iequals(std::string_view(value).substr(0, 7), "Bearer ")) {
          m.request.push_back("b:" + value.substr(7));
        }
        break;
      case SessionKey::Cookie:
        if (iequals(name, "Cookie")) {
          for_each_cookie(value, [&](std::string_view n, std::string_view v) {
            if (n == options_.name) m.request.push_back("k:" + std::string(n) + "=" + std::string(v));
          });
        }
        break;
      case SessionKey::Header:
        if (iequals(name, options_.name)) m.request.push_back("h:" + value);
        break;
      case SessionKey::ClientIp: break;
    }
  }
  if (options_.key == SessionKey::Header) return m;
  for (const auto& [name, value] : x.response.headers) {
    if (!iequals(name, "Set-Cookie")) continue;
    std::string_view n, v;
    if (!set_cookie_pair(value, n, v)) continue;
    const bool wanted = options_.key == SessionKey::Cookie ? n == options_.name : identifier_like(v);
    if (wanted) m.response.push_back("k:" + std::string(n) + "=" + std::string(v));
  }
  return m;
}

std::uint64_t SessionGrouper::assign(const SessionMarks& m) {
  std::uint64_t session = 0;
  if (options_.key == SessionKey::ClientIp) {
    // One mark, the client's address; connections play no part.
    for (const auto& mark : m.request) {
      session = lookup(mark);
      if (session == 0) {
        session = ++stats_.sessions;
        remember(mark, session);
      }
    }
    return session;
  }
  for (const auto& mark : m.request) {
    session = lookup(mark);
    if (session != 0) {
      ++stats_.linked_by_cookie;
      break;
    }
  }
  if (session == 0) {
    const auto it = connections_.find(m.connection_id);
    if (it != connections_.end()) session = it->second;
  }
  if (session == 0) session = ++stats_.sessions;

  remember_connection(m.connection_id, session);
  for (const auto& mark : m.request) remember(mark, session);
  for (const auto& mark : m.response) remember(mark, session);
  return session;
}

}  // namespace reprise::capture
