// `reprise capture -i lo` on live loopback traffic, ended by a signal: everything answered before
// the signal is in the trace, and the trace is complete (footer, verify passes).

#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <thread>

#include "reprise/format/reader.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace reprise;
using namespace reprise::test;

namespace {

bool wait_for_text(const std::string& path, const std::string& text) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(path);
    const std::string all((std::istreambuf_iterator<char>(in)), {});
    if (all.find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

}  // namespace

TEST_CASE("live capture on loopback ends cleanly on SIGINT or SIGTERM with every exchange written",
          "[capture][integration][live]") {
  if (!Nginx::available() || ::geteuid() != 0) {
    WARN("skipped: needs nginx and root");
    return;
  }
  const int sig = GENERATE(SIGINT, SIGTERM);
  TempDir dir;
  Nginx nginx;
  const auto trace = dir.file("live.rtrace");
  const auto err = dir.file("capture.err");
  Background capture({"/bin/sh", "-c",
                      "exec " + reprise_bin() + " capture -i lo --port " + std::to_string(nginx.port()) +
                          " -o " + trace + " 2>" + err});
  REQUIRE(wait_for_text(err, "listening on lo"));
  for (int i = 0; i < 20; ++i)
    REQUIRE(run({"curl", "-s", "-o", "/dev/null", nginx.url("/static/10000?live=" + std::to_string(i))}).exit_code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int status = capture.stop(sig, std::chrono::seconds(10));
  CHECK(status == 0);
  std::ifstream e(err);
  const std::string summary((std::istreambuf_iterator<char>(e)), {});
  INFO(summary);
  CHECK(summary.find("stopped by signal") != std::string::npos);

  auto verify = run({reprise_bin(), "trace", "verify", trace});
  CHECK(verify.exit_code == 0);
  auto r = format::Reader::open(trace);
  REQUIRE(r.ok());
  REQUIRE((*r)->footer() != nullptr);
  CHECK((*r)->footer()->records() == 20);
  CHECK((*r)->footer()->end_reason()->str() == "signal");
}

TEST_CASE("live capture stops at --duration on a quiet link, with what it saw written",
          "[capture][integration][live]") {
  // libpcap's immediate mode blocks until a packet comes: a quiet link must still end the
  // capture on time and hand its exchanges to the trace without waiting for more packets.
  if (!Nginx::available() || ::geteuid() != 0) {
    WARN("skipped: needs nginx and root");
    return;
  }
  TempDir dir;
  Nginx nginx;
  const auto trace = dir.file("quiet.rtrace");
  const auto err = dir.file("capture.err");
  const auto started = std::chrono::steady_clock::now();
  Background capture({"/bin/sh", "-c",
                      "exec " + reprise_bin() + " capture -i lo --port " + std::to_string(nginx.port()) +
                          " --duration 2s -o " + trace + " 2>" + err});
  REQUIRE(wait_for_text(err, "listening on lo"));
  REQUIRE(run({"curl", "-s", "-o", "/dev/null", nginx.url("/static/100?quiet=1")}).exit_code == 0);
  const int status = capture.stop(0, std::chrono::seconds(8));  // waits for it to end by itself
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(status == 0);
  CHECK(seconds < 5);
  std::ifstream e(err);
  const std::string summary((std::istreambuf_iterator<char>(e)), {});
  INFO(summary);
  CHECK(summary.find("stopped by duration") != std::string::npos);
  auto r = format::Reader::open(trace);
  REQUIRE(r.ok());
  REQUIRE((*r)->footer() != nullptr);
  CHECK((*r)->footer()->records() == 1);
}
