#pragma once
// `reprise trace …`: info, cat, verify, repair. Every FILE may be "-" for standard input.

#include <CLI/CLI.hpp>

namespace reprise::tools {

void add_trace_info(CLI::App& trace, int& exit_code);
void add_trace_cat(CLI::App& trace, int& exit_code);
void add_trace_verify(CLI::App& trace, int& exit_code);
void add_trace_repair(CLI::App& trace, int& exit_code);

}  // namespace reprise::tools
