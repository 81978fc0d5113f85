#pragma once
// Runs programs for tests: the built `reprise` binary, servers, tcpdump. No shell is involved
// unless a test asks for one with run_shell().

#include <chrono>
#include <string>
#include <vector>

namespace reprise::test {

struct ProcessResult {
  int exit_code = -1;      // the exit status, or 128 + signal number when killed by a signal
  std::string out;         // standard output
  std::string err;         // standard error
};

// Runs argv to completion with `input` on standard input; kills it after `timeout`.
ProcessResult run(const std::vector<std::string>& argv, const std::string& input = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Runs `script` with /bin/sh -c (for pipelines).
ProcessResult run_shell(const std::string& script,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The built reprise binary ($REPRISE_BIN, set by CTest) and the source tree ($REPRISE_SOURCE_DIR,
// else the one this was built from).
std::string reprise_bin();
std::string source_dir();

// A program running in the background, killed (SIGTERM, then SIGKILL) when destroyed.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  int pid() const { return pid_; }
  // Sends `sig` and waits up to `timeout` for the exit; returns the status as run() does.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  int pid_ = -1;
  int status_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace reprise::test
