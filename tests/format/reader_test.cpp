#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "format_test_util.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/frame.hpp"
#include "support/temp_dir.hpp"

using namespace reprise;
using namespace reprise::test;
using format::errc;

namespace {

// What a damaged file must give: a prefix of the original records, in order, nothing invented.
void require_prefix(const ReadBack& back, const std::vector<format::fb::ExchangeT>& xs) {
  REQUIRE(back.records.size() <= xs.size());
  for (std::size_t i = 0; i < back.records.size(); ++i) REQUIRE(back.records[i] == xs[i]);
}

// The number of records in the blocks that lie wholly before `cut`.
std::size_t records_before(const std::vector<std::uint8_t>& bytes, std::uint64_t cut) {
  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  std::size_t n = 0;
  for (const auto* b : *(*r)->footer()->blocks())
    if (b->offset() + b->compressed_size() <= cut) n += b->records();
  return n;
}

}  // namespace

TEST_CASE("truncation at every block boundary keeps every block before it", "[format][reader]") {
  const auto xs = random_exchanges(400);
  const auto bytes = write_trace(xs, 8 * 1024);
  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  REQUIRE(r.ok());
  std::vector<std::uint64_t> cuts;
  for (const auto* b : *(*r)->footer()->blocks()) cuts.push_back(b->offset());
  REQUIRE(cuts.size() > 20);
  for (std::uint64_t cut : cuts) {
    INFO("cut at " << cut);
    const std::vector<std::uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    const auto back = read_trace(part);
    CHECK_FALSE(back.error);  // a clean cut between frames: the file just ends (no footer)
    CHECK_FALSE(back.footer);
    CHECK(back.records.size() == records_before(bytes, cut));
    require_prefix(back, xs);
  }
}

TEST_CASE("truncation at random offsets: a clear error at the offset, the prefix kept",
          "[format][reader]") {
  const auto xs = random_exchanges(300);
  const auto bytes = write_trace(xs, 8 * 1024);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 300; ++i) {
    const std::uint64_t cut = rng() % bytes.size();
    INFO("cut at " << cut);
    const std::vector<std::uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    const auto back = read_trace(part);
    require_prefix(back, xs);
    CHECK(back.records.size() == records_before(bytes, cut));
    if (back.error) {
      CHECK((back.error->code == errc::truncated || back.error->code == errc::empty_file));
      CHECK(back.error->where == "mem.rtrace");
      if (back.error->code == errc::truncated) {
        CHECK(back.error->offset != Error::kNoOffset);
        CHECK(back.error->offset < cut);
      }
    }
  }
}

TEST_CASE("a flipped byte anywhere: an error or a footer problem, never a wrong record",
          "[format][reader]") {
  const auto xs = random_exchanges(200);
  const auto bytes = write_trace(xs, 8 * 1024);
  std::mt19937_64 rng(5);
  int errors = 0;
  for (int i = 0; i < 400; ++i) {
    auto damaged = bytes;
    const std::size_t at = static_cast<std::size_t>(rng() % damaged.size());
    damaged[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    INFO("flip at " << at);
    auto r = format::Reader::open(format::ByteSource::from_memory(damaged, "mem.rtrace"));
    if (!r) {  // the header frame was hit
      CHECK(r.error().offset == 0);
      ++errors;
      continue;
    }
    const auto back = read_trace(damaged);
    require_prefix(back, xs);
    if (back.error) {
      ++errors;
      CHECK(back.error->offset <= at);
      CHECK(!back.error->message().empty());
    } else {
      // Only the footer can be damaged without losing records: it is then ignored.
      CHECK(back.records.size() == xs.size());
      CHECK_FALSE((*r)->footer_problem().empty());
    }
  }
  CHECK(errors > 300);  // nearly all of the file is data frames
}

TEST_CASE("absurd length prefixes are refused without a large allocation", "[format][reader]") {
  const auto xs = random_exchanges(50);
  auto bytes = write_trace(xs, 1 << 20);  // one block of more than 64 KiB
  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  const std::uint64_t first_block = (*r)->footer()->blocks()->Get(0)->offset();

  SECTION("a header frame that claims 4 GiB") {
    format::store_u32le(bytes.data() + 4, 0xFFFFFFF0u);
    const auto back = read_trace(bytes);
    REQUIRE(back.error);
    CHECK(back.error->code == errc::limit_exceeded);
  }
  SECTION("a data frame that declares 1 TiB of content") {
    // Rewrite the frame header's content size field as 8 bytes of 2^40.
    auto& b = bytes;
    const std::size_t fhd = first_block + 4;
    const unsigned fcs_flag = b[fhd] >> 6;
    REQUIRE(fcs_flag >= 2);  // 4- or 8-byte content size for blocks of this size
    const bool single = (b[fhd] >> 5) & 1u;
    const std::size_t fcs_at = fhd + 1 + (single ? 0 : 1) + 0;
    if (fcs_flag == 2) format::store_u32le(b.data() + fcs_at, 0xFFFFFFFFu);
    else b[fcs_at + 5] = 0x01;
    const auto back = read_trace(bytes);
    REQUIRE(back.error);
    CHECK(back.error->code == errc::limit_exceeded);
    CHECK(back.error->offset == first_block);
    CHECK(back.records.empty());
  }
  SECTION("a record length prefix past its block") {
    // Build one block by hand whose only record claims 2 GiB.
    format::BlockBuilder bb;
    flatbuffers::FlatBufferBuilder fbb;
    format::pack(fbb, xs[0]);
    bb.add(fbb.GetBufferSpan(), 0);
    std::vector<std::uint8_t> content(bb.content().begin(), bb.content().end());
    format::store_u32le(content.data(), 0x7FFFFFF0u);
    format::BlockCompressor c(3);
    std::vector<std::uint8_t> frame;
    std::string why;
    REQUIRE(c.compress(content, frame, why));
    std::vector<std::uint8_t> file(bytes.begin(), bytes.begin() + static_cast<long>(first_block));
    file.insert(file.end(), frame.begin(), frame.end());
    const auto back = read_trace(file);
    REQUIRE(back.error);
    CHECK(back.error->code == errc::bad_record);
    CHECK(back.error->offset == first_block);
  }
}

TEST_CASE("not a reprise file: empty, wrong magic, plain zstd, unknown major, a directory",
          "[format][reader]") {
  SECTION("empty") {
    const auto back = read_trace({});
    REQUIRE(back.error);
    CHECK(back.error->code == errc::empty_file);
  }
  SECTION("text") {
    const std::string t = "GET / HTTP/1.1\r\n\r\n";
    const auto back = read_trace({t.begin(), t.end()});
    REQUIRE(back.error);
    CHECK(back.error->code == errc::bad_magic);
    CHECK(back.error->offset == 0);
  }
  SECTION("a plain zstd frame") {
    format::BlockCompressor c(3);
    std::vector<std::uint8_t> frame;
    std::string why;
    const std::vector<std::uint8_t> content(100, 'x');
    REQUIRE(c.compress(content, frame, why));
    const auto back = read_trace(frame);
    REQUIRE(back.error);
    CHECK(back.error->code == errc::bad_magic);
  }
  SECTION("an unknown major version") {
    auto h = trace_header();
    std::vector<std::uint8_t> bytes = write_trace(random_exchanges(3));
    // Re-write the header frame with format_major 9, keeping its digest valid.
    auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
    std::unique_ptr<format::fb::FileHeaderT> hh((*r)->header().UnPack());
    hh->format_major = 9;
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(format::fb::FileHeader::Pack(fbb, hh.get()));
    const auto fbs = fbb.GetBufferSpan();
    std::vector<std::uint8_t> frame(24 + fbs.size());
    format::store_u32le(frame.data(), format::kHeaderFrameMagic);
    format::store_u32le(frame.data() + 4, static_cast<std::uint32_t>(16 + fbs.size()));
    std::copy(std::begin(format::kHeaderTag), std::end(format::kHeaderTag), frame.begin() + 8);
    const auto d = format::digest64(fbs);
    format::store_u32le(frame.data() + 16, static_cast<std::uint32_t>(d));
    format::store_u32le(frame.data() + 20, static_cast<std::uint32_t>(d >> 32));
    std::copy(fbs.begin(), fbs.end(), frame.begin() + 24);
    const auto back = read_trace(frame);
    REQUIRE(back.error);
    CHECK(back.error->code == errc::unsupported_version);
    CHECK(back.error->message().find("9.") != std::string::npos);
  }
  SECTION("a directory") {
    TempDir dir;
    auto r = format::Reader::open(dir.path().string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("directory") != std::string::npos);
  }
  SECTION("a missing file") {
    auto r = format::Reader::open("/nonexistent/trace.rtrace");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::not_found);
    CHECK(r.error().where == "/nonexistent/trace.rtrace");
  }
}

TEST_CASE("resync skips damaged frames and reads every intact block after them",
          "[format][reader]") {
  const auto xs = random_exchanges(300);
  auto bytes = write_trace(xs, 8 * 1024);
  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  const auto* blocks = (*r)->footer()->blocks();
  REQUIRE(blocks->size() > 10);
  const auto* hit = blocks->Get(3);
  bytes[hit->offset() + hit->compressed_size() / 2] ^= 0x40;
  format::ReaderOptions o;
  o.resync = true;
  const auto back = read_trace(bytes, o);
  CHECK_FALSE(back.error);
  CHECK(back.records.size() == xs.size() - hit->records());
  // The records after the damage are the originals after the lost block.
  const std::size_t lost_from = records_before(bytes, hit->offset());
  for (std::size_t i = lost_from; i < back.records.size(); ++i)
    REQUIRE(back.records[i] == xs[i + hit->records()]);
}

TEST_CASE("a time window with the footer index reads only the blocks it needs",
          "[format][reader]") {
  const auto xs = random_exchanges(1000);  // 1 ms apart
  const auto bytes = write_trace(xs, 8 * 1024);
  auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
  REQUIRE(r.ok());
  (*r)->set_window(500'000'000, 520'000'000);
  format::Record rec;
  std::vector<std::uint64_t> ids;
  for (;;) {
    auto more = (*r)->next(rec);
    REQUIRE(more.ok());
    if (!*more) break;
    ids.push_back(rec.exchange()->id());
  }
  // Whole blocks come back; the window's records are among them.
  REQUIRE_FALSE(ids.empty());
  CHECK(ids.front() <= 501);
  CHECK(ids.back() >= 521);
  CHECK(ids.size() < 200);
  CHECK((*r)->stats().blocks_outside_window > 0);
}

TEST_CASE("streaming through a pipe: writer to one end, reader from the other",
          "[format][reader]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const auto xs = random_exchanges(2000);
  std::thread producer([&] {
    auto w = format::Writer::open("/dev/fd/" + std::to_string(fds[1]), trace_header());
    ::close(fds[1]);
    if (!w) return;
    for (const auto& x : xs)
      if (!(*w)->append(x)) break;
    (void)(*w)->close();
  });
  auto r = format::Reader::open("/dev/fd/" + std::to_string(fds[0]));
  ::close(fds[0]);
  REQUIRE(r.ok());
  format::Record rec;
  std::size_t i = 0;
  for (;;) {
    auto more = (*r)->next(rec);
    REQUIRE(more.ok());
    if (!*more) break;
    format::fb::ExchangeT e;
    rec.exchange()->UnPackTo(&e);
    REQUIRE(i < xs.size());
    REQUIRE(e == xs[i++]);
  }
  producer.join();
  CHECK(i == xs.size());
  CHECK((*r)->footer() != nullptr);  // a pipe learns the footer at the end
}
