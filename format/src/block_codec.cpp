#include "reprise/format/block_codec.hpp"

#include <zstd.h>

#include <algorithm>
#include <memory>

#include "reprise/format/error.hpp"
#include "reprise/format/frame.hpp"

namespace reprise::format {

void BlockBuilder::add(std::span<const std::uint8_t> record, std::int64_t time_ns) {
  const std::size_t at = content_.size();
  const std::size_t padded = align_up(record.size(), kRecordAlign);
  // Appended, then padded with zeros: the record's bytes are written once.
  content_.insert(content_.end(), record.begin(), record.end());
  content_.resize(at + padded);
  if (summary_.records == 0) {
    summary_.first_ns = summary_.last_ns = time_ns;
  } else {
    summary_.first_ns = std::min(summary_.first_ns, time_ns);
    summary_.last_ns = std::max(summary_.last_ns, time_ns);
  }
  ++summary_.records;
  summary_.content_size = content_.size();
}

std::vector<std::uint8_t> BlockBuilder::take(std::vector<std::uint8_t> recycled) {
  recycled.clear();
  std::swap(recycled, content_);
  summary_ = {};
  return recycled;
}

struct BlockCompressor::Impl {
  ZSTD_CCtx* cctx = nullptr;
  // zstd writes here, then the frame is appended to the caller's vector: growing that vector by
  // ZSTD_compressBound() would zero about 1 MiB per block, several times the frame's size.
  std::unique_ptr<std::uint8_t[]> scratch;
  std::size_t scratch_size = 0;
};

BlockCompressor::BlockCompressor(int level) : impl_(std::make_unique<Impl>()) {
  impl_->cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_contentSizeFlag, 1);
}

BlockCompressor::~BlockCompressor() { ZSTD_freeCCtx(impl_->cctx); }

bool BlockCompressor::compress(std::span<const std::uint8_t> content,
                               std::vector<std::uint8_t>& out, std::string& why) {
  if (impl_->cctx == nullptr) {
    why = "cannot create a zstd context";
    return false;
  }
  const std::size_t bound = ZSTD_compressBound(content.size());
  if (impl_->scratch_size < bound) {
    impl_->scratch = std::make_unique_for_overwrite<std::uint8_t[]>(bound);
    impl_->scratch_size = bound;
  }
  const std::size_t n =
      ZSTD_compress2(impl_->cctx, impl_->scratch.get(), bound, content.data(), content.size());
  if (ZSTD_isError(n)) {
    why = ZSTD_getErrorName(n);
    return false;
  }
  out.insert(out.end(), impl_->scratch.get(), impl_->scratch.get() + n);
  return true;
}

struct BlockDecompressor::Impl {
  ZSTD_DCtx* dctx = nullptr;
};

BlockDecompressor::BlockDecompressor() : impl_(std::make_unique<Impl>()) {
  impl_->dctx = ZSTD_createDCtx();
}

BlockDecompressor::~BlockDecompressor() { ZSTD_freeDCtx(impl_->dctx); }

bool BlockDecompressor::decompress(std::span<const std::uint8_t> frame, std::uint64_t content_size,
                                   std::vector<std::uint8_t>& content, std::string& why) {
  if (impl_->dctx == nullptr) {
    why = "cannot create a zstd context";
    return false;
  }
  // resize() without value-initialising would be nicer; the cost is one memset per block, which
  // the benchmark shows is small beside decompression.
  content.resize(content_size);
  const std::size_t n = ZSTD_decompressDCtx(impl_->dctx, content.data(), content.size(),
                                            frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    why = ZSTD_getErrorName(n);
    return false;
  }
  if (n != content_size) {
    why = "decompressed " + std::to_string(n) + " bytes, frame declares " +
          std::to_string(content_size);
    return false;
  }
  return true;
}

Result<std::optional<RecordCursor::Item>> RecordCursor::next() {
  if (pos_ >= content_.size()) return std::optional<Item>{};
  const std::size_t at = pos_;
  auto damaged = [&](std::string what) {
    return fail(errc::bad_record, {}, "record at block offset " + std::to_string(at) + ": " + what);
  };
  if (content_.size() - at < 4) return damaged("fewer than 4 bytes left for its length");
  const std::uint32_t len = load_u32le(content_.data() + at);
  if (len < 8 || len > content_.size() - at - 4)
    return damaged("length " + std::to_string(len) + " does not fit the block (" +
                   std::to_string(content_.size() - at - 4) + " bytes left)");
  const auto record = content_.subspan(at, 4 + std::size_t{len});
  if (verify_ && !verify_record(kind_, record)) return damaged("fails the FlatBuffers verifier");
  pos_ = at + align_up(4 + std::size_t{len}, kRecordAlign);
  return std::optional<Item>{Item{record, at}};
}

}  // namespace reprise::format
