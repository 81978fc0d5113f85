// Memory and crash behaviour that needs real files and real processes.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "format_test_util.hpp"
#include "reprise/format/error.hpp"
#include "support/temp_dir.hpp"

using namespace reprise;
using namespace reprise::test;

namespace {

// Resident set size of this process, from /proc/self/status (VmRSS, in KiB).
std::uint64_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

}  // namespace

TEST_CASE("reading a file of more than 1 GiB of content keeps resident memory bounded",
          "[format][reader][memory]") {
  TempDir dir;
  const auto path = dir.file("big.rtrace");
  // 4,200 records of 256 KiB bodies: 1.03 GiB of content that zstd squeezes to a few MiB, so
  // the test spends its time in the reader, not on disk.
  std::mt19937_64 rng(1);
  std::vector<std::uint8_t> body(256 * 1024);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>("{\"k\":1234},"[i % 11]);
  constexpr int kRecords = 4200;
  {
    auto w = format::Writer::open(path, trace_header());
    REQUIRE(w.ok());
    format::fb::ExchangeT e = random_exchange(rng, 1, 0);
    e.request->body.clear();
    e.response = std::make_unique<format::fb::ResponseT>();
    e.response->body = body;
    for (int i = 0; i < kRecords; ++i) {
      e.id = static_cast<std::uint64_t>(i);
      e.request_first_ns = i;
      REQUIRE((*w)->append(e).ok());
    }
    REQUIRE((*w)->close().ok());
    CHECK((*w)->stats().content_bytes > (std::uint64_t{1} << 30));
  }
  const std::uint64_t before = rss_bytes();
  std::uint64_t peak = before;
  auto r = format::Reader::open(path);
  REQUIRE(r.ok());
  format::Record rec;
  std::uint64_t n = 0, body_bytes = 0;
  for (;;) {
    auto more = (*r)->next(rec);
    REQUIRE(more.ok());
    if (!*more) break;
    body_bytes += rec.exchange()->response()->body()->size();
    if (++n % 100 == 0) peak = std::max(peak, rss_bytes());
  }
  CHECK(n == kRecords);
  CHECK(body_bytes == std::uint64_t{kRecords} * body.size());
  INFO("rss before " << before / 1024 << " KiB, peak while reading " << peak / 1024 << " KiB");
  // One compressed frame, one 1 MiB block, the read buffer: a few MiB. 32 MiB leaves room for
  // the allocator and sanitizers, and is far below the 1 GiB read.
  CHECK(peak - before < std::uint64_t{32} << 20);
}

TEST_CASE("a writer killed with SIGKILL leaves every flushed block readable",
          "[format][writer][crash]") {
  TempDir dir;
  const auto path = dir.file("killed.rtrace");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    format::WriterOptions o;
    o.flush_interval = std::chrono::milliseconds(20);
    auto w = format::Writer::open(path, trace_header(), o);
    if (!w) ::_exit(1);
    std::mt19937_64 rng(9);
    for (std::uint64_t i = 0;; ++i) {
      auto e = random_exchange(rng, i, static_cast<std::int64_t>(i));
      if (!(*w)->append(e)) ::_exit(2);
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));

  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  const auto back = read_trace(bytes);
  CHECK_FALSE(back.footer);
  CHECK(back.records.size() > 100);
  // A kill can land mid-frame: then the error is `truncated`, after every complete block.
  if (back.error) CHECK(back.error->code == format::errc::truncated);
  for (std::size_t i = 0; i < back.records.size(); ++i) REQUIRE(back.records[i].id == i);
}
