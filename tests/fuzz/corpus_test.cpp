// Every saved input of every fuzz target (tests/fuzz/corpus/<target>/: seeds, and each input a
// fuzzing run found a defect with, kept once fixed; the pcap and trace targets start from
// samples/ instead), run through the target in the normal test
// suite, so a defect fuzzing found stays fixed in every build (and under the sanitizers), with or
// without clang. A broken contract aborts the test binary (FUZZ_CHECK).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "targets.hpp"

namespace fs = std::filesystem;
using namespace reprise;

namespace {

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `target` over its corpus folder and the `samples` (paths from the source root), each
// sample whole and cut in half (a file cut mid-record, as a killed writer leaves it); returns
// how many inputs ran.
std::size_t run_corpus(const char* target, std::initializer_list<const char*> samples = {}) {
  const fs::path root = test::source_dir();
  std::vector<fs::path> inputs;
  if (const auto dir = root / "tests/fuzz/corpus" / target; fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) inputs.push_back(e.path());
  fuzz::Target run = nullptr;
  for (const auto& t : fuzz::kTargets)
    if (std::string(t.name) == target) run = t.run;
  REQUIRE(run != nullptr);
  std::size_t ran = 0;
  for (const auto& p : inputs) {
    INFO("input " << p.string());
    const auto bytes = read_file(p);
    CHECK(run(bytes.data(), bytes.size()) == 0);
    ++ran;
  }
  for (const char* s : samples) {
    const auto bytes = read_file(root / s);
    REQUIRE(!bytes.empty());
    for (const std::size_t size : {bytes.size(), bytes.size() / 2}) {
      INFO("sample " << s << ", first " << size << " bytes");
      CHECK(run(bytes.data(), size) == 0);
      ++ran;
    }
  }
  return ran;
}

}  // namespace

TEST_CASE("fuzz corpus: HTTP stream events keep the exchange contracts", "[fuzz]") {
  CHECK(run_corpus("http_stream") >= 3);
}

TEST_CASE("fuzz corpus: pcap files keep the packet and exchange contracts", "[fuzz]") {
  CHECK(run_corpus("pcap_file", {"samples/demo.pcap"}) >= 2);
}

TEST_CASE("fuzz corpus: trace and run files read safely", "[fuzz]") {
  CHECK(run_corpus("trace_file", {"samples/demo.rtrace"}) >= 2);
}

TEST_CASE("fuzz corpus: responses read by replay keep the reader's contracts", "[fuzz]") {
  CHECK(run_corpus("response") >= 3);
}

TEST_CASE("fuzz corpus: the proxy forwards each message as exactly one well-framed message", "[fuzz]") {
  CHECK(run_corpus("message_relay") >= 3);
}

TEST_CASE("fuzz corpus: the cookie jar never returns a header with CR, LF or NUL", "[fuzz]") {
  CHECK(run_corpus("cookie_jar") >= 2);
}

TEST_CASE("fuzz corpus: the JSON diff is sorted, bounded and symmetric", "[fuzz]") {
  CHECK(run_corpus("json_diff") >= 2);
}

TEST_CASE("fuzz corpus: flag parsers accept or refuse with a reason", "[fuzz]") {
  CHECK(run_corpus("flag_text") >= 5);
}
