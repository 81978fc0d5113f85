#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <set>

#include "format_test_util.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/frame.hpp"
#include "support/temp_dir.hpp"

using namespace reprise;
using namespace reprise::test;
using format::errc;

TEST_CASE("round trip: every field of many random exchanges survives", "[format][writer]") {
  const auto xs = random_exchanges(3000);
  const auto bytes = write_trace(xs);
  const auto back = read_trace(bytes);
  REQUIRE_FALSE(back.error);
  CHECK(back.footer);
  REQUIRE(back.records.size() == xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    INFO("record " << i);
    REQUIRE(back.records[i] == xs[i]);
  }
}

TEST_CASE("round trip: outcomes in a run file, with the run header", "[format][writer]") {
  std::mt19937_64 rng(11);
  std::vector<format::fb::OutcomeT> os;
  for (std::uint64_t i = 0; i < 2000; ++i)
    os.push_back(random_outcome(rng, i, static_cast<std::int64_t>(rng() % 1'000'000'000)));
  format::fb::FileHeaderT h;
  h.kind = format::FileKind::Run;
  h.run = std::make_unique<format::fb::RunInfoT>();
  h.run->target = "http://127.0.0.1:8080";
  h.run->plan = R"({"speed":2})";
  h.run->trace_digest = "abc123";
  h.run->shard_index = 2;
  h.run->shard_count = 4;
  std::vector<std::uint8_t> bytes;
  format::WriterOptions o;
  o.block_bytes = 32 * 1024;
  auto w = format::Writer::open(std::make_unique<format::MemorySink>(&bytes), h, o);
  REQUIRE(w.ok());
  for (const auto& x : os) REQUIRE((*w)->append(x).ok());
  REQUIRE((*w)->close("completed").ok());

  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  REQUIRE(r.ok());
  CHECK((*r)->kind() == format::FileKind::Run);
  std::unique_ptr<format::fb::FileHeaderT> back_h((*r)->header().UnPack());
  CHECK(back_h->run->target == "http://127.0.0.1:8080");
  CHECK(back_h->run->shard_index == 2);
  CHECK(back_h->run->shard_count == 4);
  CHECK(back_h->format_major == format::kFormatMajor);
  REQUIRE((*r)->footer() != nullptr);
  CHECK((*r)->footer()->end_reason()->str() == "completed");
  CHECK((*r)->footer()->records() == os.size());
  format::Record rec;
  std::size_t i = 0;
  for (;;) {
    auto more = (*r)->next(rec);
    REQUIRE(more.ok());
    if (!*more) break;
    format::fb::OutcomeT o2;
    rec.outcome()->UnPackTo(&o2);
    REQUIRE(i < os.size());
    REQUIRE(o2 == os[i++]);
  }
  CHECK(i == os.size());
}

TEST_CASE("the footer holds the block index and totals", "[format][writer]") {
  const auto xs = random_exchanges(500);
  const auto bytes = write_trace(xs, 16 * 1024);
  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  REQUIRE(r.ok());
  const auto* f = (*r)->footer();
  REQUIRE(f != nullptr);
  CHECK(f->records() == 500);
  CHECK(f->first_ns() == 0);
  CHECK(f->last_ns() == 499'000'000);
  REQUIRE(f->blocks()->size() > 10);
  std::uint64_t records = 0, prev_end = (*r)->header_frame_size();
  for (const auto* b : *f->blocks()) {
    CHECK(b->offset() == prev_end);  // blocks are contiguous after the header
    CHECK(b->first_ns() <= b->last_ns());
    prev_end = b->offset() + b->compressed_size();
    records += b->records();
  }
  CHECK(records == 500);
  std::set<std::uint64_t> sessions, connections;
  for (const auto& x : xs) {
    sessions.insert(x.session_id);
    connections.insert(x.connection_id);
  }
  CHECK(f->sessions() == sessions.size());
  CHECK(f->connections() == connections.size());
  CHECK_FALSE(f->distinct_saturated());
}

TEST_CASE("traces must be appended in request start order", "[format][writer]") {
  std::vector<std::uint8_t> bytes;
  auto w = format::Writer::open(std::make_unique<format::MemorySink>(&bytes), trace_header());
  REQUIRE(w.ok());
  auto xs = random_exchanges(3);
  xs[1].request_first_ns = xs[2].request_first_ns + 5;
  REQUIRE((*w)->append(xs[0]).ok());
  REQUIRE((*w)->append(xs[1]).ok());
  auto st = (*w)->append(xs[2]);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == errc::out_of_order);
  CHECK((*w)->stats().out_of_order == 1);
  // The writer stays usable.
  xs[2].request_first_ns = xs[1].request_first_ns;
  CHECK((*w)->append(xs[2]).ok());
  CHECK((*w)->close().ok());
  CHECK(read_trace(bytes).records.size() == 3);
}

TEST_CASE("a block is closed at the flush interval, so a dead writer loses at most one interval",
          "[format][writer]") {
  auto now = std::chrono::steady_clock::time_point{};
  std::vector<std::uint8_t> bytes;
  format::WriterOptions o;
  o.flush_interval = std::chrono::milliseconds(100);
  o.compress_threads = GENERATE(2u, 1u, 0u);
  o.clock = [&] { return now; };
  auto w = format::Writer::open(std::make_unique<format::MemorySink>(&bytes), trace_header(), o);
  REQUIRE(w.ok());
  const auto xs = random_exchanges(10);
  for (int i = 0; i < 5; ++i) REQUIRE((*w)->append(xs[static_cast<std::size_t>(i)]).ok());
  REQUIRE((*w)->poll().ok());  // not due yet
  REQUIRE((*w)->flush().ok() == true);
  const auto after_flush = bytes.size();
  CHECK(read_trace(bytes).records.size() == 5);

  REQUIRE((*w)->append(xs[5]).ok());
  now += std::chrono::milliseconds(99);
  REQUIRE((*w)->poll().ok());
  CHECK((*w)->stats().blocks == 1);
  now += std::chrono::milliseconds(1);
  REQUIRE((*w)->poll().ok());
  REQUIRE((*w)->flush().ok());  // waits for the compressor; the block was already closed
  CHECK((*w)->stats().blocks == 2);
  CHECK((*w)->stats().blocks_by_interval == 1);
  CHECK(bytes.size() > after_flush);
  // Without close(): the file has no footer yet, and every record written so far reads back.
  const auto partial = read_trace(bytes);
  CHECK_FALSE(partial.error);
  CHECK_FALSE(partial.footer);
  CHECK(partial.records.size() == 6);
  REQUIRE((*w)->close().ok());
}

TEST_CASE("files are created 0600 and a closed writer refuses more", "[format][writer]") {
  TempDir dir;
  const auto path = dir.file("t.rtrace");
  auto w = format::Writer::open(path, trace_header());
  REQUIRE(w.ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE((*w)->close().ok());
  auto again = (*w)->append(random_exchanges(1)[0]);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == errc::closed);
}

TEST_CASE("an unwritable output is an output error naming the file", "[format][writer]") {
  auto w = format::Writer::open("/nonexistent-dir/x.rtrace", trace_header());
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == errc::output_error);
  CHECK(w.error().message().find("/nonexistent-dir/x.rtrace") != std::string::npos);
}

TEST_CASE("a record larger than the limit is refused", "[format][writer]") {
  std::vector<std::uint8_t> bytes;
  format::WriterOptions o;
  o.max_record_bytes = 1000;
  auto w = format::Writer::open(std::make_unique<format::MemorySink>(&bytes), trace_header(), o);
  REQUIRE(w.ok());
  auto x = random_exchanges(1)[0];
  x.request->body.assign(5000, 'a');
  auto st = (*w)->append(x);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == errc::record_too_large);
}

TEST_CASE("run files carry interval frames in order and readers hand them out", "[format][writer]") {
  using namespace reprise::format;
  for (unsigned threads : {0u, 2u}) {
    std::vector<std::uint8_t> bytes;
    auto sink = std::make_unique<MemorySink>(&bytes, "run");
    fb::FileHeaderT header;
    header.kind = fb::FileKind::Run;
    WriterOptions options;
    options.compress_threads = threads;
    auto writer = Writer::open(std::move(sink), header, options);
    REQUIRE(writer);
    for (int second = 0; second < 5; ++second) {
      fb::OutcomeT o;
      o.exchange_id = static_cast<std::uint64_t>(second + 1);
      o.intended_ns = second * 1'000'000'000LL;
      o.iteration = 2;
      REQUIRE((*writer)->append(o));
      REQUIRE((*writer)->flush());
      fb::IntervalT interval;
      interval.start_ns = second * 1'000'000'000LL;
      interval.duration_ns = 1'000'000'000;
      interval.outcomes = 1;
      interval.status_classes = {0, 0, 1, 0, 0, 0};
      interval.service = std::make_unique<fb::LatencyHistogramT>();
      interval.service->buckets = {100};
      interval.service->counts = {1};
      REQUIRE((*writer)->append_interval(interval));
    }
    REQUIRE((*writer)->close("completed"));

    std::vector<std::int64_t> starts;
    ReaderOptions ro;
    ro.on_interval = [&](const fb::Interval& i) {
      starts.push_back(i.start_ns());
      CHECK(i.service()->buckets()->Get(0) == 100);
    };
    auto reader = Reader::open(ByteSource::from_memory(bytes, "run"), ro);
    REQUIRE(reader);
    Record r;
    int records = 0;
    while (true) {
      auto more = (*reader)->next(r);
      REQUIRE(more);
      if (!*more) break;
      CHECK(r.outcome()->iteration() == 2);
      // Each outcome's block precedes the interval frame written after it.
      CHECK(starts.size() == static_cast<std::size_t>(records));
      ++records;
    }
    CHECK(records == 5);
    CHECK(starts == std::vector<std::int64_t>{0, 1'000'000'000, 2'000'000'000, 3'000'000'000,
                                              4'000'000'000});
    CHECK((*reader)->stats().interval_frames == 5);
    CHECK((*reader)->stats().damaged_intervals == 0);
  }
}
