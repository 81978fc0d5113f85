#pragma once
// The frame layer of the container (format/SPEC.md, "Frames"): constants and a sans-I/O probe
// that tells, from the bytes at the start of a frame, what kind of frame it is and how long it
// is, or how many bytes it needs to tell. It reads zstd frame and block headers as RFC 8878
// defines them, so a frame's length is known without decompressing it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace reprise::format {

inline constexpr std::uint16_t kFormatMajor = 1;
inline constexpr std::uint16_t kFormatMinor = 3;  // 1.1: interval frames, Outcome.iteration
                                                   // 1.2: Outcome.method and .target
                                                   // 1.3: Outcome.correlation, footer
                                                   //      correlation stats

inline constexpr std::uint32_t kZstdMagic = 0xFD2FB528u;
inline constexpr std::uint32_t kSkippableMagicMin = 0x184D2A50u;  // ..0x184D2A5F
inline constexpr std::uint32_t kHeaderFrameMagic = 0x184D2A5Au;   // skippable: file header
inline constexpr std::uint32_t kFooterFrameMagic = 0x184D2A5Fu;   // skippable: footer
inline constexpr std::uint32_t kIntervalFrameMagic = 0x184D2A5Bu; // skippable: run interval
inline constexpr std::size_t kSkippableHeaderSize = 8;           // magic + u32 size
inline constexpr char kHeaderTag[8] = {'R', 'P', 'R', 'S', '-', 'H', 'D', 'R'};
inline constexpr char kFooterTag[8] = {'R', 'P', 'R', 'S', '-', 'F', 'T', 'R'};
inline constexpr char kIntervalTag[8] = {'R', 'P', 'R', 'S', '-', 'I', 'V', 'L'};
inline constexpr std::uint32_t kTrailerMagic = 0x45525052u;      // "RPRE" little-endian
inline constexpr std::size_t kTrailerSize = 8;                    // u32 footer frame size + magic
inline constexpr std::size_t kMetaDigestSize = 8;                 // header/footer digest64
inline constexpr std::size_t kRecordAlign = 8;                    // records start 8-aligned

// `n` rounded up to a multiple of `a`.
constexpr std::size_t align_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

enum class FrameKind : std::uint8_t {
  Data,       // a zstd frame: one block of records
  Header,     // the reprise file header
  Footer,     // the reprise footer
  Interval,   // runs: the statistics of one interval (one second)
  Skippable,  // any other skippable frame: ignored, for forward compatibility
};

struct FrameProbe {
  enum class Status : std::uint8_t { Complete, NeedMore, Invalid };
  Status status = Status::NeedMore;
  FrameKind kind = FrameKind::Data;
  std::uint64_t frame_size = 0;    // Complete: the frame's total size in bytes
  std::uint64_t content_size = 0;  // Data: the declared decompressed size
  bool has_checksum = false;       // Data: the frame carries a content checksum
  std::uint64_t need = 0;          // NeedMore: bytes needed from the frame start to go on
  std::string why;                 // Invalid: what is wrong
  bool over_limit = false;         // Invalid: a declared size is past a limit
};

// Probes the frame starting at bytes[0]. Limits: a data frame must declare its content size
// and it must be at most `max_content`; a frame's total size may not exceed
// `max_frame` — past either the probe answers Invalid, so a damaged length never turns into a
// huge allocation. Cost: linear in the number of zstd blocks in the bytes given.
FrameProbe probe_frame(std::span<const std::uint8_t> bytes, std::uint64_t max_content,
                       std::uint64_t max_frame);

// Little-endian helpers used by the frame and record layers.
inline std::uint32_t load_u32le(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
inline void store_u32le(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

}  // namespace reprise::format
