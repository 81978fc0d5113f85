#include "reprise/format/frame.hpp"

#include <cstring>

namespace reprise::format {
namespace {

FrameProbe need(std::uint64_t n) {
  FrameProbe p;
  p.status = FrameProbe::Status::NeedMore;
  p.need = n;
  return p;
}

FrameProbe invalid(std::string why, bool over_limit = false) {
  FrameProbe p;
  p.status = FrameProbe::Status::Invalid;
  p.why = std::move(why);
  p.over_limit = over_limit;
  return p;
}

// Skippable frames: magic, u32 size, payload. Ours are recognised by magic *and* tag so that a
// foreign skippable frame with our magic number is passed over rather than misread.
FrameProbe probe_skippable(std::span<const std::uint8_t> b, std::uint32_t magic,
                           std::uint64_t max_frame) {
  if (b.size() < kSkippableHeaderSize) return need(kSkippableHeaderSize);
  const std::uint64_t size = kSkippableHeaderSize + load_u32le(b.data() + 4);
  if (size > max_frame) return invalid("skippable frame of " + std::to_string(size) + " bytes", true);
  FrameProbe p;
  p.kind = FrameKind::Skippable;
  const char* tag = nullptr;
  if (magic == kHeaderFrameMagic) tag = kHeaderTag;
  if (magic == kFooterFrameMagic) tag = kFooterTag;
  if (magic == kIntervalFrameMagic) tag = kIntervalTag;
  if (tag != nullptr && size >= kSkippableHeaderSize + sizeof kHeaderTag) {
    if (b.size() < kSkippableHeaderSize + sizeof kHeaderTag)
      return need(kSkippableHeaderSize + sizeof kHeaderTag);
    if (std::memcmp(b.data() + kSkippableHeaderSize, tag, sizeof kHeaderTag) == 0)
      p.kind = magic == kHeaderFrameMagic   ? FrameKind::Header
               : magic == kFooterFrameMagic ? FrameKind::Footer
                                            : FrameKind::Interval;
  }
  p.status = FrameProbe::Status::Complete;
  p.frame_size = size;
  return p;
}

}  // namespace

FrameProbe probe_frame(std::span<const std::uint8_t> b, std::uint64_t max_content,
                       std::uint64_t max_frame) {
  if (b.size() < 4) return need(4);
  const std::uint32_t magic = load_u32le(b.data());
  if ((magic & 0xFFFFFFF0u) == kSkippableMagicMin) return probe_skippable(b, magic, max_frame);
  if (magic != kZstdMagic) return invalid("no frame magic number here");

  // Frame header (RFC 8878, 3.1.1.1).
  if (b.size() < 5) return need(5);
  const std::uint8_t fhd = b[4];
  const unsigned fcs_flag = fhd >> 6;
  const bool single_segment = (fhd >> 5) & 1u;
  const bool reserved = (fhd >> 3) & 1u;
  const bool checksum = (fhd >> 2) & 1u;
  const unsigned dict_flag = fhd & 3u;
  if (reserved) return invalid("zstd frame header has its reserved bit set");
  static constexpr unsigned kDictBytes[4] = {0, 1, 2, 4};
  static constexpr unsigned kFcsBytes[4] = {0, 2, 4, 8};
  const unsigned fcs_bytes = fcs_flag == 0 ? (single_segment ? 1 : 0) : kFcsBytes[fcs_flag];
  const std::size_t header_size = 5 + (single_segment ? 0 : 1) + kDictBytes[dict_flag] + fcs_bytes;
  if (b.size() < header_size) return need(header_size);
  if (fcs_bytes == 0) return invalid("zstd frame does not declare its content size");
  std::uint64_t content = 0;
  const std::uint8_t* fcs = b.data() + header_size - fcs_bytes;
  for (unsigned i = 0; i < fcs_bytes; ++i) content |= std::uint64_t{fcs[i]} << (8 * i);
  if (fcs_bytes == 2) content += 256;
  if (content > max_content)
    return invalid("block declares " + std::to_string(content) + " bytes of content, limit " +
                   std::to_string(max_content), true);

  // Blocks (RFC 8878, 3.1.1.2): a 3-byte header each, the last one flagged.
  std::uint64_t pos = header_size;
  for (;;) {
    if (b.size() < pos + 3) return need(pos + 3);
    const std::uint32_t bh = std::uint32_t{b[pos]} | (std::uint32_t{b[pos + 1]} << 8) |
                             (std::uint32_t{b[pos + 2]} << 16);
    const bool last = bh & 1u;
    const unsigned type = (bh >> 1) & 3u;
    const std::uint32_t size = bh >> 3;
    if (type == 3) return invalid("zstd block of reserved type");
    if (size > 128 * 1024) return invalid("zstd block larger than 128 KiB");
    pos += 3 + (type == 1 ? 1 : size);  // an RLE block stores one byte
    if (pos > max_frame) return invalid("zstd frame longer than " + std::to_string(max_frame), true);
    if (last) break;
  }
  if (checksum) pos += 4;
  if (b.size() < pos) return need(pos);
  FrameProbe p;
  p.status = FrameProbe::Status::Complete;
  p.kind = FrameKind::Data;
  p.frame_size = pos;
  p.content_size = content;
  p.has_checksum = checksum;
  return p;
}

}  // namespace reprise::format
