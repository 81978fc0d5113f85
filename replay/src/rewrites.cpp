#include "reprise/replay/rewrites.hpp"

#include <algorithm>
#include <cctype>

#include "reprise/replay/error.hpp"
#include "reprise/text.hpp"

namespace reprise::replay {
namespace {

// RFC 9110 token characters (field names and methods).
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool unsafe(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

Result<std::regex> compile(std::string_view flag, std::string_view pattern) {
  try {
    return std::regex(std::string(pattern), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return fail(errc::bad_plan, std::string(flag), "'" + std::string(pattern) + "' is not a regular expression: " + e.what());
  }
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

FilterVerdict Rewrites::filter(std::string_view method, std::string_view target) const {
  if (!methods.empty() && std::find(methods.begin(), methods.end(), method) == methods.end())
    return FilterVerdict::Method;
  if (skip_unsafe && unsafe(method)) return FilterVerdict::Unsafe;
  const std::string t(target);
  auto found = [&t](const PathFilter& f) { return std::regex_search(t, f.pattern); };
  if (!include_paths.empty() && std::none_of(include_paths.begin(), include_paths.end(), found))
    return FilterVerdict::Path;
  if (std::any_of(exclude_paths.begin(), exclude_paths.end(), found)) return FilterVerdict::Path;
  return FilterVerdict::Replay;
}

std::string Rewrites::rewrite_target(std::string_view target) const {
  std::string t(target);
  for (const auto& r : paths) t = std::regex_replace(t, r.pattern, r.replacement);
  return t;
}

bool Rewrites::drops(std::string_view name) const {
  for (const auto& d : drop_headers)
    if (iequals(d, name)) return true;
  for (const auto& [n, v] : set_headers)
    if (iequals(n, name)) return true;
  return false;
}

std::vector<std::string> Rewrites::describe() const {
  std::vector<std::string> out;
  for (const auto& m : methods) out.push_back("--method " + m);
  if (skip_unsafe) out.push_back("--skip-unsafe");
  for (const auto& f : include_paths) out.push_back("--include-path " + quoted(f.text));
  for (const auto& f : exclude_paths) out.push_back("--exclude-path " + quoted(f.text));
  for (const auto& r : paths) out.push_back("--rewrite-path " + quoted(r.text));
  for (const auto& d : drop_headers) out.push_back("--drop-header " + d);
  for (const auto& [n, v] : set_headers) out.push_back("--set-header " + quoted(n + ": " + v));
  if (host_header == HostHeader::Target) out.push_back("--host-header target");
  return out;
}

Result<PathRewrite> parse_path_rewrite(std::string_view text) {
  const auto arrow = text.find("=>");
  if (arrow == std::string_view::npos || arrow == 0)
    return fail(errc::bad_plan, "--rewrite-path",
                quoted(text) + " is not REGEX=>REPLACEMENT (e.g. '^/api/v1/=>/api/v2/')");
  auto re = compile("--rewrite-path", text.substr(0, arrow));
  if (!re) return re.take_error();
  return PathRewrite{std::move(*re), std::string(text.substr(arrow + 2)), std::string(text)};
}

Result<PathFilter> parse_path_filter(std::string_view flag, std::string_view text) {
  if (text.empty()) return fail(errc::bad_plan, std::string(flag), "give a regular expression, e.g. '^/api/'");
  auto re = compile(flag, text);
  if (!re) return re.take_error();
  return PathFilter{std::move(*re), std::string(text)};
}

Result<std::pair<std::string, std::string>> parse_set_header(std::string_view text) {
  const auto colon = text.find(':');
  const std::string_view name = colon == std::string_view::npos ? text : trim_ows(text.substr(0, colon));
  if (colon == std::string_view::npos || !is_token(name))
    return fail(errc::bad_plan, "--set-header", quoted(text) + " is not 'NAME: VALUE' (e.g. 'X-Replay: 1')");
  const std::string_view value = trim_ows(text.substr(colon + 1));
  if (value.find_first_of("\r\n") != std::string_view::npos)
    return fail(errc::bad_plan, "--set-header", quoted(text) + ": a value cannot hold a line break");
  return std::make_pair(std::string(name), std::string(value));
}

Result<std::string> parse_drop_header(std::string_view text) {
  if (!is_token(text)) return fail(errc::bad_plan, "--drop-header", quoted(text) + " is not a header name");
  return std::string(text);
}

Result<HostHeader> parse_host_header(std::string_view text) {
  if (text == "keep") return HostHeader::Keep;
  if (text == "target") return HostHeader::Target;
  return fail(errc::bad_plan, "--host-header", quoted(text) + ": keep (the recorded Host) or target");
}

Result<std::string> parse_method(std::string_view text) {
  if (!is_token(text)) return fail(errc::bad_plan, "--method", quoted(text) + " is not a method (GET, POST, ...)");
  std::string m(text);
  for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return m;
}

}  // namespace reprise::replay
