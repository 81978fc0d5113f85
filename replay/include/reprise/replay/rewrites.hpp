#pragma once
// Rewrites: which recorded requests a replay sends, and what it changes in them on the way.
// Sans-I/O: the recorded method, target and headers in, a verdict or the bytes to send out.
//
// Filters, checked against the recorded request (before any rewrite):
//   --method M (repeatable)     only these methods
//   --skip-unsafe               leave out POST, PUT, PATCH and DELETE (replaying against a shared
//                               environment must not create, change or delete anything)
//   --include-path REGEX        only targets (path and query) one of these finds a match in
//   --exclude-path REGEX        not targets one of these finds a match in
// Rewrites, in this order:
//   --rewrite-path 'REGEX=>REPLACEMENT'   on the target, every match, rules in order ($1 groups)
//   --drop-header NAME                    every recorded field of that name
//   --set-header 'NAME: VALUE'            replaces every recorded field of that name (or adds it)
//   --host-header keep|target             keep the recorded Host (default; the target's when the
//                                         recording had none) or send the target's authority
// Hop-by-hop fields and Content-Length are always rebuilt (request_wire in target.hpp).

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/result.hpp"

namespace reprise::replay {

struct PathRewrite {
  std::regex pattern;
  std::string replacement;
  std::string text;  // as given
};

struct PathFilter {
  std::regex pattern;
  std::string text;
};

enum class HostHeader : std::uint8_t { Keep, Target };

// Why a request is not replayed.
enum class FilterVerdict : std::uint8_t { Replay, Method, Unsafe, Path };

struct Rewrites {
  HostHeader host_header = HostHeader::Keep;
  std::vector<std::pair<std::string, std::string>> set_headers;  // name, value
  std::vector<std::string> drop_headers;
  std::vector<PathRewrite> paths;
  std::vector<PathFilter> include_paths, exclude_paths;
  std::vector<std::string> methods;  // empty: every method
  bool skip_unsafe = false;

  FilterVerdict filter(std::string_view method, std::string_view target) const;
  // The target after the --rewrite-path rules.
  std::string rewrite_target(std::string_view target) const;
  // Whether a recorded header is left out (dropped, or replaced by a --set-header).
  bool drops(std::string_view name) const;
  // One line per rule, in flag syntax ("--skip-unsafe", "--set-header 'X-Env: replay'"): for the
  // dry run and the plan stored in the run file. Empty when nothing is filtered or rewritten.
  std::vector<std::string> describe() const;
};

// Flag parsers; errors are errc::bad_plan naming the flag and showing the syntax.
Result<PathRewrite> parse_path_rewrite(std::string_view text);       // 'REGEX=>REPLACEMENT'
Result<PathFilter> parse_path_filter(std::string_view flag, std::string_view text);
Result<std::pair<std::string, std::string>> parse_set_header(std::string_view text);  // 'NAME: VALUE'
Result<std::string> parse_drop_header(std::string_view text);        // a field name
Result<HostHeader> parse_host_header(std::string_view text);         // keep | target
Result<std::string> parse_method(std::string_view text);             // a token, upper-cased

}  // namespace reprise::replay
