#pragma once
// RouteNamer: a request line -> its route, the unit reports and comparisons group by.
//
// A route is "METHOD /path/template": the query string is dropped and every path segment that is
// an identifier becomes {id} — all digits, a UUID (8-4-4-4-12 hex), or hex of 12 or more
// characters with at least one digit ("/users/42/orders/9f86d081884c" -> "/users/{id}/orders/{id}").
// Rules given with --route 'REGEX=>NAME' are tried first, in order, against "METHOD /path" (no
// query); the first that matches anywhere names the route (NAME may use $1..$9 for groups).
//
// Limit: at most `max_routes` distinct names (default 500); later new names fold into
// "(other routes)" and are counted, so a trace full of unrecognised ids cannot make a report
// of a million rows.

#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "reprise/result.hpp"

namespace reprise::report {

struct RouteRule {
  std::regex pattern;
  std::string name;
  std::string text;  // as given
};

// Parses 'REGEX=>NAME'; the error (errc::bad_route) says what was wrong.
Result<RouteRule> parse_route_rule(std::string_view text);

// The path template of one path (no query), without the method: "/users/{id}".
std::string path_template(std::string_view path);

class RouteNamer {
 public:
  static constexpr const char* kOther = "(other routes)";
  // The route of outcomes from runs older than format 1.2, which did not record request lines.
  static const std::string& unrecorded();

  explicit RouteNamer(std::vector<RouteRule> rules = {}, std::size_t max_routes = 500);

  // The route of a request line; names are stable for the namer's lifetime.
  const std::string& name(std::string_view method, std::string_view target);

  std::uint64_t folded() const { return folded_; }  // requests counted under kOther
  std::size_t routes() const { return known_.size(); }

 private:
  std::vector<RouteRule> rules_;
  std::size_t max_routes_;
  static constexpr std::size_t kCacheLimit = 65536;
  std::unordered_set<std::string> known_;  // route names handed out (node-based: stable)
  std::unordered_map<std::string, const std::string*> cache_;  // "METHOD target" -> route
  std::string other_ = kOther;
  std::uint64_t folded_ = 0;
  std::string key_;
};

}  // namespace reprise::report
