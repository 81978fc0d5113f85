#pragma once
// CloneRewrite: gives each session clone its own identifier where the recording had one, so a
// ×5 replay looks like five users rather than one user five times.
//
//   --clone-rewrite 'header:X-User-Id'          clone k >= 1 sends "<recorded>-<k>"; clone 0 (the
//                                               recorded session) sends the recorded value
//   --clone-rewrite 'query:user'                the same for a query parameter's value
//   --clone-rewrite 'cookie:uid'                ... for a cookie the request sends
//   --clone-rewrite 'header:X-User-Id=u{clone}' a template, for every clone including 0:
//                                               {clone} is the clone number, {value} the
//                                               recorded value
// Sans-I/O: applied to the request head by SessionClones when a clone's request is built.
// `{clone}` may also appear in --set-header values and --rewrite-path replacements.

#include <cstdint>
#include <string>
#include <string_view>

#include "reprise/result.hpp"

namespace reprise::replay {

enum class CloneField : std::uint8_t { Header, Query, Cookie };

struct CloneRewrite {
  CloneField field = CloneField::Header;
  std::string name;
  std::string value_template;  // empty: "{value}-{clone}" for clones >= 1, unchanged for clone 0
  std::string text;            // as given

  // The value clone `clone` sends where the recording sent `recorded`.
  std::string value_for(std::string_view recorded, std::uint32_t clone) const;
};

// errc::bad_plan naming --clone-rewrite and the syntax.
Result<CloneRewrite> parse_clone_rewrite(std::string_view text);

// Replaces every "{clone}" in `text` by the clone number; false when there was none.
bool expand_clone_placeholder(std::string& text, std::uint32_t clone);

}  // namespace reprise::replay
