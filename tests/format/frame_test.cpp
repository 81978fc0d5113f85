#include <catch2/catch.hpp>

#include "reprise/format/block_codec.hpp"
#include "reprise/format/frame.hpp"

using namespace reprise::format;

TEST_CASE("frame probe: zstd frames", "[format][frame]") {
  std::vector<std::uint8_t> content(300000);
  // Half noise, so the frame spans several zstd blocks and is larger than the limits below.
  std::uint64_t x = 42;
  for (std::size_t i = 0; i < content.size(); ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    content[i] = i % 2 ? static_cast<std::uint8_t>(x >> 56) : static_cast<std::uint8_t>(i);
  }
  BlockCompressor c(3);
  std::vector<std::uint8_t> frame;
  std::string why;
  REQUIRE(c.compress(content, frame, why));

  SECTION("a complete frame gives its exact size and content size") {
    auto p = probe_frame(frame, 1 << 20, 1 << 22);
    REQUIRE(p.status == FrameProbe::Status::Complete);
    CHECK(p.kind == FrameKind::Data);
    CHECK(p.frame_size == frame.size());
    CHECK(p.content_size == content.size());
    CHECK(p.has_checksum);
  }
  SECTION("every prefix asks for more, never for less than it has") {
    for (std::size_t n = 0; n < frame.size(); ++n) {
      auto p = probe_frame(std::span(frame).first(n), 1 << 20, 1 << 22);
      REQUIRE(p.status == FrameProbe::Status::NeedMore);
      REQUIRE(p.need > n);
      REQUIRE(p.need <= frame.size());
    }
  }
  SECTION("trailing bytes after the frame are not counted") {
    frame.push_back(0xAB);
    auto p = probe_frame(frame, 1 << 20, 1 << 22);
    REQUIRE(p.status == FrameProbe::Status::Complete);
    CHECK(p.frame_size == frame.size() - 1);
  }
  SECTION("a declared content size past the limit is refused, not allocated") {
    auto p = probe_frame(frame, 1000, 1 << 22);
    CHECK(p.status == FrameProbe::Status::Invalid);
  }
  SECTION("a frame longer than the frame limit is refused") {
    auto p = probe_frame(frame, 1 << 20, 1000);
    CHECK(p.status == FrameProbe::Status::Invalid);
  }
  SECTION("a reserved bit in the frame header is damage") {
    frame[4] |= 0x08;
    CHECK(probe_frame(frame, 1 << 20, 1 << 22).status == FrameProbe::Status::Invalid);
  }
}

TEST_CASE("frame probe: skippable frames and bad magic", "[format][frame]") {
  std::vector<std::uint8_t> f(8 + 8 + 4);
  store_u32le(f.data(), kFooterFrameMagic);
  store_u32le(f.data() + 4, 12);
  std::copy(std::begin(kFooterTag), std::end(kFooterTag), f.begin() + 8);
  auto p = probe_frame(f, 1 << 20, 1 << 20);
  REQUIRE(p.status == FrameProbe::Status::Complete);
  CHECK(p.kind == FrameKind::Footer);
  CHECK(p.frame_size == 20);

  f[8] = 'X';  // our magic, someone else's tag: passed over as a foreign skippable frame
  CHECK(probe_frame(f, 1 << 20, 1 << 20).kind == FrameKind::Skippable);

  store_u32le(f.data() + 4, 0xFFFFFFF0u);  // absurd length prefix
  CHECK(probe_frame(f, 1 << 20, 1 << 20).status == FrameProbe::Status::Invalid);

  const std::vector<std::uint8_t> junk = {'G', 'E', 'T', ' ', '/'};
  CHECK(probe_frame(junk, 1 << 20, 1 << 20).status == FrameProbe::Status::Invalid);
}
