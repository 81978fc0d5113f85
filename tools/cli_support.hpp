#pragma once
// What every `reprise` command shares: exit codes, error reporting, and the registration
// signature of a command.

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "reprise/result.hpp"

namespace reprise::tools {

// Exit codes, the same for every command (README, "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,   // a check failed (compare gate, verify found damage in a sound run)
  kExitBadInput = 2,      // bad usage or bad input: a flag, a missing or damaged input file
  kExitAborted = 3,       // a replay aborted by a safety rule
  kExitEnvironment = 4,   // cannot open an interface, bind a port, write an output
  kExitInterrupted = 130, // Ctrl-C
};

// The exit code an error maps to: output and environment failures are 4, the rest are 2.
int exit_code_for(const Error& error);

// Prints "reprise: <message>" on stderr and returns exit_code_for(error).
int report(const Error& error);
// Prints "reprise: <message>" on stderr.
void warn(const std::string& message);

// Standard output, checked: a full disk or a closed pipe is an output error (exit 4), never a
// silent success. write_stdout() buffers; flush_stdout() at the end says whether it all went.
Status write_stdout(std::string_view text);
// Writes `text` to the file `path` (--stats-json and the like); an output_error (exit 4) naming
// the file and why when it cannot.
Status write_text_file(const std::string& path, std::string_view text);
Status flush_stdout();

// Thrown by a command's parse step for a flag value CLI11 cannot check by itself; main() prints
// it and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Each command file defines one of these; main() calls them. A command sets the exit code
// through the int it is given.
void add_trace_commands(CLI::App& app, int& exit_code);
void add_capture_command(CLI::App& app, int& exit_code);
void add_proxy_command(CLI::App& app, int& exit_code);
void add_replay_command(CLI::App& app, int& exit_code);
void add_report_commands(CLI::App& app, int& exit_code);  // report and compare

}  // namespace reprise::tools
