#pragma once
// The replay library's one error enum. bad_* values are bad usage or input (CLI exit 2);
// resolve_failed, output_error, listen_failed and system_resource are environment errors
// (exit 4).

#include <system_error>

#include "reprise/result.hpp"

namespace reprise::replay {

enum class errc {
  ok = 0,
  bad_rule,        // an --abort-on rule that does not parse
  bad_plan,        // plan values that contradict each other or are out of range
  bad_target,      // a --target URL that is not http://host[:port][/]
  resolve_failed,  // the target host does not resolve
  listen_failed,   // the metrics endpoint cannot bind
  output_error,    // the run file cannot be written
  input_error,     // the trace cannot be read
  system_resource, // the system refused a resource the engine needs (an epoll instance)
};

const std::error_category& category();
std::error_code make_error_code(errc e);

// Builds an Error in one expression: replay::fail(errc::bad_rule, "--abort-on", "detail").
Error fail(errc code, std::string where, std::string detail);

}  // namespace reprise::replay

template <>
struct std::is_error_code_enum<reprise::replay::errc> : std::true_type {};
