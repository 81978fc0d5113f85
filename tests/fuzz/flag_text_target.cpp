// Fuzz target: the text parsers behind the command line's flags (durations, sizes, rates,
// stages, abort rules, gate rules, session keys, header edits, clone rewrites, target URLs,
// field paths) and the route template of a request path, which comes from traffic. A parser
// either accepts or refuses with a message; a duration or size it accepts is not negative.
// Parsers that compile a user's regular expression (--path-rewrite, --route, --correlate) are
// left out: std::regex recurses on the pattern's nesting, which no input check here bounds.
//
// Input: a byte that picks the parser, then the text.

#include <string_view>

#include "fuzz_check.hpp"
#include "targets.hpp"
#include "reprise/capture/session_grouper.hpp"
#include "reprise/replay/abort_rules.hpp"
#include "reprise/replay/clone_rewrite.hpp"
#include "reprise/replay/plan.hpp"
#include "reprise/replay/rewrites.hpp"
#include "reprise/replay/target.hpp"
#include "reprise/report/gate.hpp"
#include "reprise/report/json_diff.hpp"
#include "reprise/report/route_namer.hpp"
#include "reprise/units.hpp"

namespace reprise::fuzz {
namespace {

// A refusal says why.
template <typename R>
void refused_with_reason(const R& r) {
  if (!r) FUZZ_CHECK(!r.error().message().empty());
}

}  // namespace

int flag_text(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 14) {
    case 0:
      if (const auto d = parse_duration_ns(text)) FUZZ_CHECK(*d >= 0);
      break;
    case 1: (void)parse_size(text); break;
    case 2:
      if (const auto r = parse_rate(text)) FUZZ_CHECK(*r >= 0);
      break;
    case 3: refused_with_reason(replay::parse_stage(text)); break;
    case 4: refused_with_reason(replay::parse_abort_rule(text)); break;
    case 5: refused_with_reason(report::parse_gate_rule(text)); break;
    case 6: refused_with_reason(capture::parse_session_key(text)); break;
    case 7: refused_with_reason(replay::parse_set_header(text)); break;
    case 8: refused_with_reason(replay::parse_drop_header(text)); break;
    case 9: refused_with_reason(replay::parse_method(text)); break;
    case 10: refused_with_reason(replay::parse_clone_rewrite(text)); break;
    case 11: refused_with_reason(replay::Target::parse(text)); break;
    case 12: (void)report::valid_field_path(text); break;
    case 13: (void)report::path_template(text); break;
  }
  return 0;
}

}  // namespace reprise::fuzz
