#include "trace_commands.hpp"

#include "cli_support.hpp"

namespace reprise::tools {

void add_trace_commands(CLI::App& app, int& exit_code) {
  auto* trace = app.add_subcommand("trace", "Inspect and maintain trace and run files");
  trace->require_subcommand(1);
  add_trace_info(*trace, exit_code);
  add_trace_cat(*trace, exit_code);
  add_trace_verify(*trace, exit_code);
  add_trace_repair(*trace, exit_code);
}

}  // namespace reprise::tools
