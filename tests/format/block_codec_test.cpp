#include <catch2/catch.hpp>

#include "reprise/format/block_codec.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/frame.hpp"
#include "reprise/format/records.hpp"

using namespace reprise::format;

namespace {

std::vector<std::uint8_t> packed_exchange(std::uint64_t id, const std::string& target) {
  fb::ExchangeT e;
  e.id = id;
  e.request = std::make_unique<fb::RequestT>();
  e.request->method = "GET";
  e.request->target = target;
  flatbuffers::FlatBufferBuilder fbb;
  pack(fbb, e);
  auto span = fbb.GetBufferSpan();
  return {span.begin(), span.end()};
}

}  // namespace

TEST_CASE("block builder keeps records 8-aligned and the cursor walks them back",
          "[format][block]") {
  BlockBuilder b;
  for (std::uint64_t i = 1; i <= 50; ++i)
    b.add(packed_exchange(i, std::string(i, 'x')), static_cast<std::int64_t>(100 - i));
  CHECK(b.summary().records == 50);
  CHECK(b.summary().first_ns == 50);
  CHECK(b.summary().last_ns == 99);
  CHECK(b.size() % kRecordAlign == 0);

  // Copy into a buffer of exactly the content size so ASan sees any over-read.
  std::vector<std::uint8_t> content(b.content().begin(), b.content().end());
  RecordCursor cur(FileKind::Trace, content, true);
  for (std::uint64_t i = 1; i <= 50; ++i) {
    auto item = cur.next();
    REQUIRE(item.ok());
    REQUIRE(item->has_value());
    CHECK((*item)->offset % kRecordAlign == 0);
    const auto* e = exchange_of((*item)->record);
    CHECK(e->id() == i);
    CHECK(e->request()->target()->size() == i);
  }
  auto end = cur.next();
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());
}

TEST_CASE("record cursor rejects damaged records without reading past the block",
          "[format][block]") {
  BlockBuilder b;
  b.add(packed_exchange(1, "/a"), 1);
  std::vector<std::uint8_t> content(b.content().begin(), b.content().end());

  SECTION("absurd length prefix") {
    store_u32le(content.data(), 0x7FFFFFFF);
    RecordCursor cur(FileKind::Trace, content, true);
    auto r = cur.next();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::bad_record);
  }
  SECTION("a run record where a trace record was expected fails verification") {
    // An Exchange read as an Outcome may or may not verify; a corrupted root offset never does.
    store_u32le(content.data() + 4, 0xFFFFFF00u);
    RecordCursor cur(FileKind::Trace, content, true);
    CHECK_FALSE(cur.next().ok());
  }
  SECTION("truncated content") {
    content.resize(6);
    RecordCursor cur(FileKind::Trace, content, true);
    CHECK_FALSE(cur.next().ok());
  }
}

TEST_CASE("compress and decompress a block, and the checksum catches damage",
          "[format][block]") {
  BlockBuilder b;
  for (std::uint64_t i = 0; i < 200; ++i) b.add(packed_exchange(i, "/users/" + std::to_string(i)), 0);
  BlockCompressor c(3);
  std::vector<std::uint8_t> frame;
  std::string why;
  REQUIRE(c.compress(b.content(), frame, why));
  BlockDecompressor d;
  std::vector<std::uint8_t> out;
  REQUIRE(d.decompress(frame, b.size(), out, why));
  CHECK(std::equal(out.begin(), out.end(), b.content().begin(), b.content().end()));

  frame[frame.size() - 2] ^= 0x01;  // inside the checksum
  CHECK_FALSE(d.decompress(frame, b.size(), out, why));
  CHECK_FALSE(why.empty());
}

TEST_CASE("body digest: the same value whatever the pieces, sensitive to every byte", "[format][digest]") {
  std::vector<std::uint8_t> body(1000);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const std::uint64_t whole = body_digest(body);
  for (std::size_t piece : {1u, 3u, 7u, 8u, 9u, 64u, 999u}) {
    BodyDigest d;
    for (std::size_t at = 0; at < body.size(); at += piece) {
      d.update(std::span(body).subspan(at, std::min(piece, body.size() - at)));
      d.update({});  // empty pieces change nothing
    }
    CHECK(d.finish() == whole);
    CHECK(d.size() == body.size());
  }
  auto other = body;
  other[500] ^= 1;
  CHECK(body_digest(other) != whole);
  // Length matters even when the extra bytes are zeros.
  std::vector<std::uint8_t> a(7, 0), b(8, 0);
  CHECK(body_digest(a) != body_digest(b));
  CHECK(body_digest({}) == BodyDigest{}.finish());
}
