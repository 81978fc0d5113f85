// TraceFeed over a real trace file: what it schedules, and that a loop's later passes, replayed
// from the first one kept in memory, are exactly what reading the file again would give.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "reprise/replay/trace_feed.hpp"
#include "support/temp_dir.hpp"
#include "support/trace_file.hpp"

using namespace reprise;
using namespace reprise::replay;
namespace fb = format::fb;

namespace {

constexpr std::int64_t kMs = 1'000'000;

// 30 exchanges 10 ms apart in 3 sessions; every 7th has no request (a response seen alone) and
// every 5th is a POST, which --skip-unsafe leaves out.
std::string make_trace(const test::TempDir& dir) {
  std::vector<fb::ExchangeT> xs;
  for (std::uint64_t i = 1; i <= 30; ++i) {
    auto& x = xs.emplace_back(test::exchange(i, 1 + i % 3, static_cast<std::int64_t>(i) * 10 * kMs,
                                             i % 5 == 0 ? "POST" : "GET",
                                             "/item/" + std::to_string(i)));
    if (i % 7 == 0) {
      x.flags = fb::ExchangeFlags::NoRequest;
      x.request.reset();
    }
  }
  return test::write_trace(dir.file("feed.rtrace"), xs);
}

struct Fed {
  std::vector<std::string> requests;  // "due exchange wire", in the order handed out
  FeedStats stats;
  std::uint32_t passes = 0;
};

Fed feed(const std::string& path, const Plan& plan, std::size_t cache_limit) {
  auto target = Target::parse("http://127.0.0.1:8080");
  REQUIRE(target);
  TraceFeed f(path, plan, *target, cache_limit);
  Fed out;
  REQUIRE(f.run([&](ScheduledRequest&& r) {
    out.requests.push_back(std::to_string(r.due_ns) + " " + std::to_string(r.request.exchange_id) + " " +
                           *r.request.wire);
    return true;
  }));
  out.stats = f.stats();
  out.passes = f.schedule().stats().passes;
  return out;
}

}  // namespace

TEST_CASE("a looped trace is replayed from memory after the first pass, exactly as read again",
          "[replay][feed]") {
  test::TempDir dir;
  const auto path = make_trace(dir);
  Plan plan;
  plan.loop = true;
  plan.duration_ns = 1000 * kMs;  // a pass takes 300 ms: three whole passes and part of a fourth
  plan.rewrites.skip_unsafe = true;
  REQUIRE(plan.validate());

  const Fed kept = feed(path, plan, TraceFeed::kLoopCacheBytes);
  const Fed read = feed(path, plan, 0);  // nothing fits: every pass reads the file

  CHECK(kept.stats.passes_from_memory >= 2);
  CHECK(kept.stats.loop_cache_overflows == 0);
  CHECK(read.stats.passes_from_memory == 0);
  CHECK(read.stats.loop_cache_overflows == 1);
  CHECK(kept.passes == read.passes);
  CHECK(kept.passes >= 3);
  REQUIRE(kept.requests.size() == read.requests.size());
  CHECK(kept.requests == read.requests);
  // The same counts as reading (per whole pass: 30 exchanges, 4 without a request, 6 POSTs).
  CHECK(kept.stats.exchanges == read.stats.exchanges);
  CHECK(kept.stats.exchanges >= 30 * 3);
  CHECK(kept.stats.skipped_no_request == read.stats.skipped_no_request);
  CHECK(kept.stats.skipped_no_request >= 4 * 3);
  CHECK(kept.stats.filtered_unsafe == read.stats.filtered_unsafe);
  CHECK(kept.stats.filtered_unsafe >= 6 * 3);
}

TEST_CASE("without a loop the trace is read once and nothing is kept", "[replay][feed]") {
  test::TempDir dir;
  const auto path = make_trace(dir);
  Plan plan;
  REQUIRE(plan.validate());
  const Fed once = feed(path, plan, TraceFeed::kLoopCacheBytes);
  CHECK(once.passes == 1);
  CHECK(once.stats.passes_from_memory == 0);
  CHECK(once.stats.loop_cache_overflows == 0);
  CHECK(once.stats.exchanges == 30);
  CHECK(once.stats.skipped_no_request == 4);
  CHECK(once.requests.size() == 30 - 4);
}
