// reprise: record real HTTP traffic, replay it at a chosen intensity, compare releases.
// This file only assembles the commands; each lives in a file of its own.

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli_support.hpp"

int main(int argc, char** argv) {
  using namespace reprise::tools;
  CLI::App app{"reprise: record real HTTP traffic, replay it safely at scale, compare releases"};
  app.set_version_flag("--version", std::string("reprise ") + REPRISE_VERSION);
  app.require_subcommand(1);
  int exit_code = kExitOk;
  add_capture_command(app, exit_code);
  add_proxy_command(app, exit_code);
  add_replay_command(app, exit_code);
  add_report_commands(app, exit_code);
  add_trace_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Said like every other refusal; CLI11's messages name the flag.
    std::fprintf(stderr, "reprise: %s (see --help)\n", e.what());
    return kExitBadInput;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "reprise: %s\n", e.what());
    return kExitBadInput;
  }
  return exit_code;
}
