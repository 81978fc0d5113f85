#include "reprise/format/reader.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "reprise/format/error.hpp"
#include "reprise/format/frame.hpp"

namespace reprise::format {
namespace {

constexpr std::size_t kScanChunk = 1 << 20;

// The FlatBuffer of one of our skippable frames (after magic, size, tag and digest), copied into
// a buffer of its own so that it is aligned; empty if the frame is too short or its digest does
// not match (a damaged header or footer).
std::vector<std::uint8_t> meta_payload(std::span<const std::uint8_t> frame, bool trailer) {
  const std::size_t skip = kSkippableHeaderSize + sizeof kHeaderTag + kMetaDigestSize;
  const std::size_t end = frame.size() - (trailer ? kTrailerSize : 0);
  if (frame.size() < kTrailerSize || end < skip) return {};
  std::vector<std::uint8_t> out(frame.begin() + static_cast<std::ptrdiff_t>(skip),
                                frame.begin() + static_cast<std::ptrdiff_t>(end));
  const std::uint8_t* d = frame.data() + skip - kMetaDigestSize;
  const std::uint64_t stored = load_u32le(d) | (std::uint64_t{load_u32le(d + 4)} << 32);
  if (digest64(out) != stored) return {};
  return out;
}

bool is_frame_start(const std::uint8_t* p) {
  const std::uint32_t m = load_u32le(p);
  return m == kZstdMagic || (m & 0xFFFFFFF0u) == kSkippableMagicMin;
}

}  // namespace

struct Reader::Impl {
  ReaderOptions options;
  std::unique_ptr<ByteSource> src;
  std::vector<std::uint8_t> header_bytes;
  std::uint64_t header_size = 0;
  std::vector<std::uint8_t> footer_bytes;
  std::uint64_t footer_offset = ~std::uint64_t{0};
  std::string footer_problem;
  FileKind kind = FileKind::Trace;

  BlockDecompressor decompressor;
  std::vector<std::uint8_t> content;
  std::optional<RecordCursor> cursor;
  std::uint64_t cursor_block = 0;

  std::int64_t from_ns = 0, to_ns = 0;
  std::size_t index_pos = 0;  // next footer index entry, when the index drives reading
  bool use_index = false;

  bool done = false;
  std::optional<Error> sticky;
  ReaderStats stats;
  std::vector<Damage> damage;

  std::uint64_t max_frame() const {
    return std::max<std::uint64_t>(ZSTD_compressBound(options.max_block_bytes) + 4096,
                                   options.max_meta_bytes);
  }

  const fb::Footer* footer() const {
    if (footer_bytes.empty()) return nullptr;
    return flatbuffers::GetRoot<fb::Footer>(footer_bytes.data());
  }

  Error err(errc code, std::uint64_t offset, std::string detail) const {
    return fail(code, src->name(), offset, std::move(detail));
  }

  // Probes the frame at the current position, reading as much as the probe needs.
  // NeedMore at end of input becomes `truncated`.
  Result<FrameProbe> probe_here() {
    std::uint64_t want = 18;  // the longest zstd frame header
    for (;;) {
      auto bytes = src->peek(static_cast<std::size_t>(want));
      if (!bytes) return bytes.take_error();
      FrameProbe p = probe_frame(*bytes, options.max_block_bytes, max_frame());
      if (p.status != FrameProbe::Status::NeedMore) return p;
      if (bytes->size() < want)  // end of input inside the frame
        return err(errc::truncated, src->position(),
                   "the file ends inside the frame that starts here (" +
                       std::to_string(bytes->size()) + " bytes present, at least " +
                       std::to_string(p.need) +
                       " needed); was the writer stopped? `reprise trace repair` keeps what is "
                       "intact");
      want = p.need;  // the source reads ahead in large chunks, so this is not a read per block
    }
  }

  // All bytes of a frame whose size is known; a short read means the file ends inside it.
  Result<std::span<const std::uint8_t>> peek_frame(std::uint64_t size) {
    auto frame = src->peek(static_cast<std::size_t>(size));
    if (!frame) return frame.take_error();
    if (frame->size() < size)
      return err(errc::truncated, src->position(),
                 "the file ends " + std::to_string(frame->size()) + " bytes into a frame of " +
                     std::to_string(size));
    return frame;
  }

  Status load_footer_from_end() {
    const std::uint64_t size = src->size();
    if (size < header_size + kTrailerSize) return {};
    auto tail = src->read_at(size - kTrailerSize, kTrailerSize);
    if (!tail) return tail.take_error();
    if (load_u32le(tail->data() + 4) != kTrailerMagic) return {};  // no footer: writer died
    const std::uint64_t frame_size = load_u32le(tail->data());
    if (frame_size > size - header_size || frame_size > options.max_meta_bytes ||
        frame_size < kSkippableHeaderSize + sizeof kFooterTag + kTrailerSize) {
      footer_problem = "footer trailer gives an impossible size " + std::to_string(frame_size);
      return {};
    }
    const std::uint64_t offset = size - frame_size;
    auto frame = src->read_at(offset, static_cast<std::size_t>(frame_size));
    if (!frame) return frame.take_error();
    FrameProbe p = probe_frame(*frame, options.max_block_bytes, max_frame());
    if (p.status != FrameProbe::Status::Complete || p.kind != FrameKind::Footer ||
        p.frame_size != frame_size) {
      footer_problem = "no footer frame where the trailer points (byte " + std::to_string(offset) + ")";
      return {};
    }
    return adopt_footer(*frame, offset, size);
  }

  // Verifies a footer frame and, if it is sound, keeps it.
  Status adopt_footer(std::span<const std::uint8_t> frame, std::uint64_t offset,
                      std::uint64_t file_size) {
    auto payload = meta_payload(frame, true);
    flatbuffers::Verifier v(payload.data(), payload.size());
    if (payload.empty() || !v.VerifyBuffer<fb::Footer>(nullptr)) {
      footer_problem = "footer at byte " + std::to_string(offset) + " is damaged (digest or verifier)";
      return {};
    }
    const auto* f = flatbuffers::GetRoot<fb::Footer>(payload.data());
    std::uint64_t prev_end = header_size;
    if (f->blocks() != nullptr) {
      for (const auto* b : *f->blocks()) {
        if (b->offset() < prev_end || b->compressed_size() == 0 ||
            b->offset() + b->compressed_size() > offset || b->offset() + b->compressed_size() > file_size) {
          footer_problem = "footer index entry for byte " + std::to_string(b->offset()) +
                           " does not fit the file";
          return {};
        }
        prev_end = b->offset() + b->compressed_size();
      }
    }
    footer_bytes = std::move(payload);
    footer_offset = offset;
    return {};
  }

  Status read_header() {
    auto probe = probe_here();
    if (!probe) {
      if (src->position() == 0 && src->peek(1)->empty())
        return err(errc::empty_file, 0, "no bytes at all");
      return probe.take_error();
    }
    const FrameProbe& p = *probe;
    if (p.status == FrameProbe::Status::Invalid && p.over_limit)
      return err(errc::limit_exceeded, 0, "the header frame: " + p.why);
    if (p.status == FrameProbe::Status::Invalid || p.kind != FrameKind::Header) {
      std::string what = "the first frame is not a reprise header";
      if (p.status == FrameProbe::Status::Complete && p.kind == FrameKind::Data)
        what = "a plain zstd file without a reprise header";
      return err(errc::bad_magic, 0, what);
    }
    auto frame = peek_frame(p.frame_size);
    if (!frame) return frame.take_error();
    header_bytes = meta_payload(*frame, false);
    flatbuffers::Verifier v(header_bytes.data(), header_bytes.size());
    if (header_bytes.empty() || !fb::VerifyFileHeaderBuffer(v))
      return err(errc::bad_magic, 0, "the file header is damaged (digest or verifier)");
    const auto* h = fb::GetFileHeader(header_bytes.data());
    if (h->format_major() != kFormatMajor)
      return err(errc::unsupported_version, 0,
                 "format " + std::to_string(h->format_major()) + "." +
                     std::to_string(h->format_minor()) + ", this reprise reads " +
                     std::to_string(kFormatMajor) + ".x (written by reprise " +
                     (h->tool_version() ? h->tool_version()->str() : "?") + ")");
    if (h->kind() != FileKind::Trace && h->kind() != FileKind::Run)
      return err(errc::bad_magic, 0, "unknown file kind " + std::to_string(static_cast<int>(h->kind())));
    kind = h->kind();
    header_size = p.frame_size;
    return src->consume(p.frame_size);
  }

  // Resync: record the damage and move to the next offset where a frame magic starts.
  Status skip_damage(Error e, std::uint64_t from) {
    ++stats.damaged_frames;
    std::uint64_t pos = from + 1;
    Status st = src->seekable() ? src->seek(pos) : src->consume(1);
    if (!st) return st;
    for (;;) {
      auto bytes = src->peek(kScanChunk);
      if (!bytes) return bytes.take_error();
      if (bytes->size() < 4) {
        st = src->consume(bytes->size());
        break;
      }
      std::size_t i = 0;
      while (i + 4 <= bytes->size() && !is_frame_start(bytes->data() + i)) ++i;
      if (i + 4 <= bytes->size()) {
        st = src->consume(i);
        break;
      }
      st = src->consume(bytes->size() - 3);
      if (!st) return st;
    }
    if (!st) return st;
    const std::uint64_t skipped = src->position() - from;
    stats.bytes_skipped += skipped;
    damage.push_back({std::move(e), from, skipped});
    return {};
  }

  Result<std::optional<Block>> next_block() {
    if (sticky) return *sticky;
    for (;;) {
      if (done) return std::optional<Block>{};
      if (use_index) {
        const auto* idx = footer()->blocks();
        while (index_pos < idx->size()) {
          const auto* b = idx->Get(static_cast<flatbuffers::uoffset_t>(index_pos));
          if (b->last_ns() >= from_ns && b->first_ns() <= to_ns) break;
          ++stats.blocks_outside_window;
          ++index_pos;
          // Traces are ordered: once a block starts after the window, so do all later ones.
          if (kind == FileKind::Trace && b->first_ns() > to_ns) index_pos = idx->size();
        }
        if (index_pos >= idx->size()) {
          done = true;
          continue;
        }
        const auto* b = idx->Get(static_cast<flatbuffers::uoffset_t>(index_pos++));
        if (Status st = src->seek(b->offset()); !st) return fail_sticky(st.take_error());
      }

      const std::uint64_t at = src->position();
      auto head = src->peek(1);
      if (!head) return fail_sticky(head.take_error());
      if (head->empty()) {
        done = true;
        continue;
      }
      if (src->seekable() && at == footer_offset) {  // the footer we already hold
        done = true;
        continue;
      }
      auto probe = probe_here();
      Error problem;
      if (!probe) {
        problem = probe.take_error();
      } else if (probe->status == FrameProbe::Status::Invalid) {
        problem = err(probe->over_limit ? errc::limit_exceeded : errc::bad_frame, at, probe->why);
      } else if (probe->kind == FrameKind::Header) {
        problem = err(errc::bad_frame, at,
                      "a second file header (two files joined? use one file per reader)");
      } else if (probe->kind == FrameKind::Data && !probe->has_checksum) {
        problem = err(errc::bad_frame, at, "data frame without a content checksum");
      } else {
        auto frame = peek_frame(probe->frame_size);
        if (!frame) {
          if (!options.resync || frame.error().code != make_error_code(errc::truncated))
            return fail_sticky(frame.take_error());
          // The file ends inside this frame (an unfinished file, whatever the frame's kind):
          // a resyncing reader records the damage and ends with what came before.
          if (Status st = skip_damage(frame.take_error(), at); !st) return fail_sticky(st.take_error());
          continue;
        }
        if (probe->kind == FrameKind::Footer) {
          if (footer_bytes.empty()) {
            if (Status st = adopt_footer(*frame, at, at + probe->frame_size); !st)
              return fail_sticky(st.take_error());
          }
          if (Status st = src->consume(probe->frame_size); !st) return fail_sticky(st.take_error());
          continue;
        }
        if (probe->kind == FrameKind::Interval) {
          deliver_interval(*frame);
          if (Status st = src->consume(probe->frame_size); !st) return fail_sticky(st.take_error());
          continue;
        }
        if (probe->kind == FrameKind::Skippable) {
          ++stats.skippable_frames;
          if (Status st = src->consume(probe->frame_size); !st) return fail_sticky(st.take_error());
          continue;
        }
        std::string why;
        if (decompressor.decompress(*frame, probe->content_size, content, why)) {
          if (Status st = src->consume(probe->frame_size); !st) return fail_sticky(st.take_error());
          ++stats.blocks;
          stats.content_bytes += content.size();
          stats.compressed_bytes += probe->frame_size;
          return std::optional<Block>{Block{at, probe->frame_size, content}};
        }
        problem = err(errc::checksum_mismatch, at, "zstd: " + why);
      }
      if (!options.resync) return fail_sticky(std::move(problem));
      if (Status st = skip_damage(std::move(problem), at); !st) return fail_sticky(st.take_error());
    }
  }

  void deliver_interval(std::span<const std::uint8_t> frame) {
    const std::vector<std::uint8_t> payload = meta_payload(frame, false);
    flatbuffers::Verifier verifier(payload.data(), payload.size());
    if (payload.empty() || !verifier.VerifyBuffer<fb::Interval>(nullptr)) {
      ++stats.damaged_intervals;
      return;
    }
    ++stats.interval_frames;
    if (options.on_interval) options.on_interval(*flatbuffers::GetRoot<fb::Interval>(payload.data()));
  }

  Result<std::optional<Block>> fail_sticky(Error e) {
    sticky = e;
    return e;
  }

  Result<bool> next(Record& out) {
    for (;;) {
      if (sticky) return *sticky;
      if (cursor) {
        auto item = cursor->next();
        if (!item) {
          Error e = item.take_error();
          e.where = src->name();
          e.offset = cursor_block;
          e.detail = "block at byte " + std::to_string(cursor_block) + ", " + e.detail;
          cursor.reset();
          if (!options.resync) {
            sticky = e;
            return e;
          }
          ++stats.damaged_frames;
          damage.push_back({std::move(e), cursor_block, 0});
          continue;
        }
        if (*item) {
          ++stats.records;
          out.bytes = (*item)->record;
          out.block_offset = cursor_block;
          return true;
        }
        cursor.reset();
      }
      auto block = next_block();
      if (!block) return block.take_error();
      if (!*block) return false;
      cursor.emplace(kind, (*block)->content, options.verify);
      cursor_block = (*block)->offset;
    }
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path, ReaderOptions options) {
  auto src = ByteSource::open(path, options.cancel);
  if (!src) return src.take_error();
  return open(std::move(*src), options);
}

Result<std::unique_ptr<Reader>> Reader::open(std::unique_ptr<ByteSource> source,
                                             ReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->src = std::move(source);
  if (Status st = impl->read_header(); !st) return st.take_error();
  if (impl->src->seekable() && options.use_footer) {
    if (Status st = impl->load_footer_from_end(); !st) return st.take_error();
  }
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

const std::string& Reader::name() const { return impl_->src->name(); }
const fb::FileHeader& Reader::header() const {
  return *fb::GetFileHeader(impl_->header_bytes.data());
}
FileKind Reader::kind() const { return impl_->kind; }
std::uint64_t Reader::header_frame_size() const { return impl_->header_size; }
const fb::Footer* Reader::footer() const { return impl_->footer(); }
const std::string& Reader::footer_problem() const { return impl_->footer_problem; }

void Reader::set_window(std::int64_t from_ns, std::int64_t to_ns) {
  impl_->from_ns = from_ns;
  impl_->to_ns = to_ns;
  impl_->use_index = impl_->footer() != nullptr && impl_->footer()->blocks() != nullptr &&
                     impl_->src->seekable() && !impl_->options.resync;
}

Result<std::optional<Block>> Reader::next_block() { return impl_->next_block(); }
Result<bool> Reader::next(Record& out) { return impl_->next(out); }
const ReaderStats& Reader::stats() const { return impl_->stats; }
const std::vector<Damage>& Reader::damage() const { return impl_->damage; }

}  // namespace reprise::format
