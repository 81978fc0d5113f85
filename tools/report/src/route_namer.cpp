#include "reprise/report/route_namer.hpp"

#include <cctype>

#include "reprise/report/error.hpp"

namespace reprise::report {
namespace {

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

// Long hex with a digit: an object id or a digest. The digit keeps words made of a-f
// ("/facade", "/deadbeefcafe" is rare enough) from being taken for ids.
bool is_long_hex(std::string_view s) {
  if (s.size() < 12) return false;
  bool digit = false;
  for (char c : s) {
    if (!is_hex(c)) return false;
    digit = digit || is_digit(c);
  }
  return digit;
}

bool is_id(std::string_view segment) {
  return all_digits(segment) || is_uuid(segment) || is_long_hex(segment);
}

std::string expand(const std::string& name, const std::smatch& m) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '$' && i + 1 < name.size() && is_digit(name[i + 1])) {
      const auto g = static_cast<std::size_t>(name[i + 1] - '0');
      if (g < m.size()) out += m[g].str();
      ++i;
    } else {
      out += name[i];
    }
  }
  return out;
}

}  // namespace

Result<RouteRule> parse_route_rule(std::string_view text) {
  const auto arrow = text.find("=>");
  if (arrow == std::string_view::npos || arrow == 0 || arrow + 2 >= text.size())
    return fail(errc::bad_route, "--route",
                "'" + std::string(text) + "' is not REGEX=>NAME (e.g. '^GET /users/[^/]+$=>GET /users/{name}')");
  RouteRule rule;
  rule.text = std::string(text);
  rule.name = std::string(text.substr(arrow + 2));
  try {
    rule.pattern = std::regex(std::string(text.substr(0, arrow)), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return fail(errc::bad_route, "--route", "'" + std::string(text.substr(0, arrow)) +
                                                "' is not a regular expression: " + e.what());
  }
  return rule;
}

std::string path_template(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      out += '/';
      ++i;
      continue;
    }
    const auto end = std::min(path.find('/', i), path.size());
    const auto segment = path.substr(i, end - i);
    if (is_id(segment))
      out += "{id}";
    else
      out += segment;
    i = end;
  }
  return out.empty() ? std::string("/") : out;
}

const std::string& RouteNamer::unrecorded() {
  static const std::string name = "(route not recorded: run older than format 1.2)";
  return name;
}

RouteNamer::RouteNamer(std::vector<RouteRule> rules, std::size_t max_routes)
    : rules_(std::move(rules)), max_routes_(max_routes) {}

const std::string& RouteNamer::name(std::string_view method, std::string_view target) {
  key_.assign(method);
  key_ += ' ';
  key_ += target;
  if (auto it = cache_.find(key_); it != cache_.end()) {
    if (it->second == &other_) ++folded_;
    return *it->second;
  }

  // Absolute-form targets ("http://host/path") are named by their path.
  std::string_view path = target;
  if (const auto scheme = path.find("://"); scheme != std::string_view::npos && path[0] != '/') {
    const auto slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  path = path.substr(0, std::min(path.find('?'), path.size()));
  const std::string line = std::string(method) + " " + std::string(path);

  std::string route;
  for (const auto& rule : rules_) {
    std::smatch m;
    if (std::regex_search(line, m, rule.pattern)) {
      route = expand(rule.name, m);
      break;
    }
  }
  if (route.empty()) route = std::string(method) + " " + path_template(path);

  const std::string* named = &other_;
  if (auto it = known_.find(route); it != known_.end()) {
    named = &*it;
  } else if (known_.size() < max_routes_) {
    named = &*known_.insert(std::move(route)).first;
  }
  if (named == &other_) ++folded_;
  if (cache_.size() >= kCacheLimit) cache_.clear();  // ids make request lines unbounded
  cache_.emplace(key_, named);
  return *named;
}

}  // namespace reprise::report
