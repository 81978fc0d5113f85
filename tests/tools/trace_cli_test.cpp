// Runs the built `reprise` binary on real files and checks its output and exit codes.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "reprise/format/writer.hpp"
#include "support/process.hpp"
#include "support/record_generator.hpp"
#include "support/temp_dir.hpp"

using namespace reprise;
using namespace reprise::test;

namespace {

// A trace of `n` realistic exchanges, 10 ms apart, with 64 KiB blocks.
std::string make_trace(const TempDir& dir, const std::string& name, int n,
                       const std::string& source = "cli-test") {
  const auto path = dir.file(name);
  format::fb::FileHeaderT h;
  h.kind = format::FileKind::Trace;
  h.source = source;
  h.epoch_unix_ns = 1'700'000'000'000'000'000;
  format::WriterOptions o;
  o.block_bytes = 64 * 1024;
  auto w = format::Writer::open(path, h, o);
  REQUIRE(w.ok());
  std::mt19937_64 rng(4);
  for (int i = 0; i < n; ++i)
    REQUIRE((*w)->append(realistic_exchange(rng, static_cast<std::uint64_t>(i), i * 10'000'000LL)).ok());
  REQUIRE((*w)->close().ok());
  return path;
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::size_t at = 0;
  while (at < out.size()) {
    const auto nl = out.find('\n', at);
    lines.push_back(nlohmann::json::parse(out.substr(at, nl - at)));
    at = nl + 1;
  }
  return lines;
}

void truncate_copy(const std::string& from, const std::string& to, std::size_t size) {
  std::ifstream in(from, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(to, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(std::min(size, bytes.size())));
}

}  // namespace

TEST_CASE("trace info: text and JSON agree with what was written", "[tools][trace]") {
  TempDir dir;
  const auto path = make_trace(dir, "a.rtrace", 500);
  auto text = run({reprise_bin(), "trace", "info", path});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("records:      500 exchanges") != std::string::npos);
  CHECK(text.out.find("footer:       present") != std::string::npos);
  CHECK(text.out.find("time span:    2023-11-14T22:13:20.000Z .. 2023-11-14T22:13:24.990Z") != std::string::npos);

  auto js = run({reprise_bin(), "trace", "info", "--json", path});
  REQUIRE(js.exit_code == 0);
  const auto j = nlohmann::json::parse(js.out);
  CHECK(j["kind"] == "trace");
  CHECK(j["records"] == 500);
  CHECK(j["span_ns"] == 4'990'000'000LL);
  CHECK(j["footer"] == true);
  CHECK(j["blocks"].get<int>() > 10);
  CHECK(j["ratio"].get<double>() > 2.0);

  SECTION("the same from standard input") {
    auto piped = run_shell(reprise_bin() + " trace info --json - < " + path);
    REQUIRE(piped.exit_code == 0);
    const auto p = nlohmann::json::parse(piped.out);
    CHECK(p["records"] == 500);
    CHECK(p["sessions"] == j["sessions"]);
  }
}

TEST_CASE("trace info --json: a source that is not UTF-8 (a pcap's file name) is not fatal",
          "[tools][trace]") {
  TempDir dir;
  const auto path = make_trace(dir, "latin1.rtrace", 3, "pcap:caf\xE9.pcap");
  const auto r = run({reprise_bin(), "trace", "info", "--json", path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.dump().find("caf\xEF\xBF\xBD.pcap") != std::string::npos);  // U+FFFD for the byte
}

TEST_CASE("trace cat: JSON lines, limits, windows, bodies", "[tools][trace]") {
  TempDir dir;
  const auto path = make_trace(dir, "a.rtrace", 300);
  auto all = run({reprise_bin(), "trace", "cat", path});
  REQUIRE(all.exit_code == 0);
  const auto lines = json_lines(all.out);
  REQUIRE(lines.size() == 300);
  CHECK(lines[0]["id"] == 0);
  CHECK(lines[0]["request"]["headers"][0][0] == "Host");
  CHECK(lines[0]["response"]["body"].is_string());

  auto limited = run({reprise_bin(), "trace", "cat", "--limit", "3", "--no-bodies", path});
  REQUIRE(limited.exit_code == 0);
  const auto few = json_lines(limited.out);
  REQUIRE(few.size() == 3);
  CHECK_FALSE(few[0]["response"].contains("body"));
  CHECK(few[0]["response"]["body_size"].get<int>() > 0);

  // Records are 10 ms apart: [1s, 1.5s) holds ids 100..149.
  auto window = run({reprise_bin(), "trace", "cat", "--from", "1s", "--to", "1500ms", path});
  REQUIRE(window.exit_code == 0);
  const auto w = json_lines(window.out);
  REQUIRE(w.size() == 50);
  CHECK(w.front()["id"] == 100);
  CHECK(w.back()["id"] == 149);

  auto bad = run({reprise_bin(), "trace", "cat", "--from", "soon", path});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--from") != std::string::npos);
}

TEST_CASE("trace verify and repair on a truncated file", "[tools][trace]") {
  TempDir dir;
  const auto path = make_trace(dir, "a.rtrace", 400);
  auto ok = run({reprise_bin(), "trace", "verify", path});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("ok: 400 records") != std::string::npos);

  const auto cut = dir.file("cut.rtrace");
  truncate_copy(path, cut, 150'000);
  auto damaged = run({reprise_bin(), "trace", "verify", cut});
  CHECK(damaged.exit_code == 2);
  CHECK(damaged.err.find(cut) != std::string::npos);
  CHECK(damaged.err.find("at byte") != std::string::npos);
  CHECK(damaged.err.find("truncated") != std::string::npos);

  // cat prints every record before the damage, then fails.
  auto partial = run({reprise_bin(), "trace", "cat", "--no-bodies", cut});
  CHECK(partial.exit_code == 2);
  const auto kept = json_lines(partial.out).size();
  CHECK(kept > 0);
  CHECK(kept < 400);

  const auto fixed = dir.file("fixed.rtrace");
  auto repaired = run({reprise_bin(), "trace", "repair", cut, fixed});
  REQUIRE(repaired.exit_code == 0);
  CHECK(repaired.err.find("kept " + std::to_string(kept) + " records") != std::string::npos);
  auto again = run({reprise_bin(), "trace", "verify", fixed});
  CHECK(again.exit_code == 0);
  auto info = run({reprise_bin(), "trace", "info", "--json", fixed});
  CHECK(nlohmann::json::parse(info.out)["end_reason"] == "repaired");
}

TEST_CASE("a run file cut or damaged inside an interval frame: repair keeps the records, verify says so",
          "[tools][trace]") {
  // A run file: outcomes, an interval frame (per-second statistics), more outcomes.
  TempDir dir;
  const auto path = dir.file("run.rrun");
  {
    format::fb::FileHeaderT h;
    h.kind = format::FileKind::Run;
    h.source = "cli-test";
    h.epoch_unix_ns = 1'700'000'000'000'000'000;
    auto w = format::Writer::open(path, h);
    REQUIRE(w.ok());
    std::mt19937_64 rng(5);
    for (int i = 0; i < 20; ++i) REQUIRE((*w)->append(random_outcome(rng, static_cast<std::uint64_t>(i), i * 1'000'000LL)).ok());
    format::fb::IntervalT interval;
    interval.duration_ns = 1'000'000'000;
    interval.outcomes = interval.sent = 20;
    interval.status_classes.assign(6, 0);
    interval.status_classes[2] = 20;
    REQUIRE((*w)->append_interval(interval).ok());
    for (int i = 20; i < 40; ++i) REQUIRE((*w)->append(random_outcome(rng, static_cast<std::uint64_t>(i), i * 1'000'000LL)).ok());
    REQUIRE((*w)->close().ok());
  }
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  // The interval frame: a skippable zstd frame, magic 0x184D2A5B, tag RPRS-IVL (SPEC.md).
  const std::size_t interval_at = bytes.find(std::string("\x5B\x2A\x4D\x18", 4));
  REQUIRE(interval_at != std::string::npos);
  REQUIRE(bytes.find("RPRS-IVL", interval_at) < interval_at + 16);

  const auto cut = dir.file("cut.rrun");
  truncate_copy(path, cut, interval_at + 12);
  const auto fixed = dir.file("fixed.rrun");
  const auto repaired = run({reprise_bin(), "trace", "repair", cut, fixed});
  INFO(repaired.err);
  CHECK(repaired.exit_code == 0);
  CHECK(repaired.err.find("skipped") != std::string::npos);
  CHECK(run({reprise_bin(), "trace", "verify", fixed}).exit_code == 0);

  std::string damaged_bytes = bytes;
  // Past the frame header, tag and digest (24 bytes): the statistics themselves. (A damaged tag
  // makes it an unknown skippable frame, which readers skip by the format's rules.)
  for (std::size_t i = interval_at + 24; i < interval_at + 40 && i < damaged_bytes.size(); ++i) damaged_bytes[i] ^= 0x5A;
  const auto damaged = dir.file("damaged.rrun");
  std::ofstream(damaged, std::ios::binary) << damaged_bytes;
  const auto verified = run({reprise_bin(), "trace", "verify", damaged});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 2);
  CHECK(verified.err.find("interval frame") != std::string::npos);
}

TEST_CASE("files reprise writes are valid zstd", "[tools][trace]") {
  TempDir dir;
  const auto path = make_trace(dir, "a.rtrace", 200);
  CHECK(run({"zstd", "-q", "-t", path}).exit_code == 0);
  auto raw = run({"zstd", "-q", "-dc", path});
  REQUIRE(raw.exit_code == 0);
  CHECK(raw.out.find("GET") != std::string::npos);  // the records, uncompressed

  // Through a pipe: repair writes to stdout, cat reads stdin.
  auto piped = run_shell(reprise_bin() + " trace repair " + path + " - 2>/dev/null | " +
                         reprise_bin() + " trace cat --no-bodies - | wc -l");
  REQUIRE(piped.exit_code == 0);
  CHECK(std::stoi(piped.out) == 200);
}

TEST_CASE("bad input gets exit code 2 and names the file", "[tools][trace]") {
  TempDir dir;
  const auto empty = dir.file("empty.rtrace");
  std::ofstream(empty).close();
  auto r1 = run({reprise_bin(), "trace", "info", empty});
  CHECK(r1.exit_code == 2);
  CHECK(r1.err.find("empty") != std::string::npos);

  const auto text = dir.file("notes.txt");
  std::ofstream(text) << "hello";
  auto r2 = run({reprise_bin(), "trace", "cat", text});
  CHECK(r2.exit_code == 2);
  CHECK(r2.err.find("not a reprise file") != std::string::npos);

  auto r3 = run({reprise_bin(), "trace", "verify", dir.path().string()});
  CHECK(r3.exit_code == 2);
  CHECK(r3.err.find("directory") != std::string::npos);

  auto r4 = run({reprise_bin(), "trace", "info", dir.file("missing.rtrace")});
  CHECK(r4.exit_code == 2);
  CHECK(r4.err.find("missing.rtrace") != std::string::npos);

  auto r5 = run({reprise_bin(), "trace", "frobnicate"});
  CHECK(r5.exit_code == 2);

  auto r6 = run({reprise_bin(), "trace", "repair", make_trace(dir, "a.rtrace", 5), "/nonexistent/out.rtrace"});
  CHECK(r6.exit_code == 4);
}
