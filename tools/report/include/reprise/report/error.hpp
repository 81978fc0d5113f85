#pragma once
// The report library's one error enum. Every value is bad input (CLI exit 2) except
// output_error (exit 4).

#include <system_error>

#include "reprise/result.hpp"

namespace reprise::report {

enum class errc {
  ok = 0,
  input_error,      // a run file that cannot be read, or is not a run
  mismatched_runs,  // runs that are not of one test (shards) or not of one trace (compare)
  bad_route,        // a --route rule that does not parse
  bad_rule,         // a --fail-on rule that does not parse
  bad_field,        // an --ignore-field path that does not parse
  empty_run,        // a side of a comparison has no outcome: nothing was compared
  output_error,     // a report file cannot be written
};

const std::error_category& category();
std::error_code make_error_code(errc e);

// Builds an Error in one expression: report::fail(errc::bad_rule, "--fail-on", "detail").
Error fail(errc code, std::string where, std::string detail);

}  // namespace reprise::report

template <>
struct std::is_error_code_enum<reprise::report::errc> : std::true_type {};
