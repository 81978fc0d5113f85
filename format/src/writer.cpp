#include "reprise/format/writer.hpp"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <time.h>

#include "reprise/format/block_codec.hpp"
#include "reprise/format/distinct_counter.hpp"
#include "reprise/format/error.hpp"
#include "reprise/format/frame.hpp"

namespace reprise::format {
namespace {

using Clock = std::chrono::steady_clock;

// The default clock, read on every append: the kernel's coarse monotonic clock (steady_clock's
// clock at the resolution of the kernel tick, 1 to 4 ms) is ample for a flush interval of a
// second, and reading it costs a load from the vDSO page instead of a TSC read; capture appends
// hundreds of thousands of records a second.
Clock::time_point coarse_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A skippable frame: magic, u32 payload size, 8-byte tag, digest64 of the FlatBuffer, the
// FlatBuffer, and for the footer the trailer (u32 total frame size, "RPRE") so a reader finds it
// from the end of the file.
std::vector<std::uint8_t> skippable_frame(std::uint32_t magic, const char (&tag)[8],
                                          std::span<const std::uint8_t> flatbuffer,
                                          bool trailer) {
  const std::size_t payload =
      sizeof tag + kMetaDigestSize + flatbuffer.size() + (trailer ? kTrailerSize : 0);
  std::vector<std::uint8_t> out(kSkippableHeaderSize + payload);
  store_u32le(out.data(), magic);
  store_u32le(out.data() + 4, static_cast<std::uint32_t>(payload));
  std::memcpy(out.data() + 8, tag, sizeof tag);
  const std::uint64_t digest = digest64(flatbuffer);
  store_u32le(out.data() + 16, static_cast<std::uint32_t>(digest));
  store_u32le(out.data() + 20, static_cast<std::uint32_t>(digest >> 32));
  std::memcpy(out.data() + 24, flatbuffer.data(), flatbuffer.size());
  if (trailer) {
    store_u32le(out.data() + out.size() - 8, static_cast<std::uint32_t>(out.size()));
    store_u32le(out.data() + out.size() - 4, kTrailerMagic);
  }
  return out;
}

// A closed block on its way to the sink, or (when `raw` is set) a finished frame that only
// needs its turn: interval frames keep their place among the blocks.
struct PendingBlock {
  std::vector<std::uint8_t> content;
  bool raw = false;
  BlockSummary summary;
  std::uint64_t seq = 0;  // blocks are written in this order whichever worker compresses them
};

}  // namespace

struct Writer::Impl {
  WriterOptions options;
  std::unique_ptr<ByteSink> sink;
  FileKind kind = FileKind::Trace;
  flatbuffers::FlatBufferBuilder fbb{4096};

  // Appending thread only.
  BlockBuilder block;
  Clock::time_point block_opened{};
  std::int64_t last_time = 0;
  bool have_last = false;
  bool closed = false;
  std::uint64_t next_seq = 0;
  DistinctCounter sessions, connections;
  BlockCompressor inline_compressor;  // compress_threads == 0
  std::vector<std::uint8_t> inline_frame;

  // Shared with the compressor threads, under mu.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<PendingBlock> queue;
  std::vector<std::vector<std::uint8_t>> spare;  // recycled content buffers
  std::size_t busy = 0;                          // blocks held by workers
  std::uint64_t next_write = 0;                  // seq of the next block to reach the sink
  bool stop = false;
  Error error;
  // Set (under mu) after `error`; read without the lock on the append path, where a block
  // that failed a moment ago is caught by the next record.
  std::atomic<bool> failed{false};
  WriterStats stats;
  std::vector<fb::BlockEntry> index;
  std::vector<std::thread> threads;

  explicit Impl(WriterOptions o)
      : options(std::move(o)),
        sessions(options.distinct_limit),
        connections(options.distinct_limit),
        inline_compressor(options.level) {
    if (!options.clock) options.clock = coarse_now;
  }

  Status sticky() {
    if (!failed.load(std::memory_order_acquire)) return {};
    std::lock_guard lock(mu);
    return error;
  }

  void fail_locked(Error e) {
    if (!failed) error = std::move(e);
    failed = true;
  }

  // Writes one compressed block and records its index entry. Called with `mu` held, by one
  // thread at a time in seq order, so the sink needs no lock of its own.
  void write_frame_locked(const PendingBlock& b, std::span<const std::uint8_t> frame) {
    const std::uint64_t offset = sink->position();
    if (Status st = sink->write(frame); !st) {
      fail_locked(st.take_error());
      return;
    }
    index.emplace_back(offset, frame.size(), b.summary.content_size, b.summary.first_ns,
                       b.summary.last_ns, b.summary.records);
    ++stats.blocks;
    stats.records += b.summary.records;
    stats.content_bytes += b.summary.content_size;
    stats.compressed_bytes += frame.size();
    stats.file_bytes = sink->position();
  }

  void write_raw_locked(std::span<const std::uint8_t> frame) {
    if (Status st = sink->write(frame); !st) fail_locked(st.take_error());
    stats.file_bytes = sink->position();
  }

  // Queues a finished frame behind the blocks already queued (or writes it now when there are
  // no workers).
  Status queue_raw(std::vector<std::uint8_t> frame) {
    std::unique_lock lock(mu);
    if (threads.empty()) {
      if (!failed) write_raw_locked(frame);
      ++next_write;
      ++next_seq;
      if (failed) return error;
      return {};
    }
    if (queue.size() >= options.queue_blocks) {
      ++stats.queue_full_waits;
      cv.wait(lock, [&] { return queue.size() < options.queue_blocks || failed; });
    }
    PendingBlock b;
    b.raw = true;
    b.content = std::move(frame);
    b.seq = next_seq++;
    queue.push_back(std::move(b));
    cv.notify_all();
    if (failed) return error;
    return {};
  }

  // A compressor thread: takes blocks in queue order, compresses them in parallel with the other
  // workers, and writes each once every earlier block has been written.
  void run_worker() {
    BlockCompressor compressor(options.level);
    std::vector<std::uint8_t> frame;
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stop requested and nothing left
      PendingBlock b = std::move(queue.front());
      queue.pop_front();
      ++busy;
      cv.notify_all();  // room in the queue
      lock.unlock();
      frame.clear();
      std::string why;
      const bool ok =
          failed_now() ? false : (b.raw || compressor.compress(b.content, frame, why));
      lock.lock();
      cv.wait(lock, [&] { return next_write == b.seq; });
      if (!ok && !failed) fail_locked(fail(errc::output_error, sink->name(), "zstd: " + why));
      if (!failed && b.raw) write_raw_locked(b.content);
      if (!failed && !b.raw) write_frame_locked(b, frame);
      ++next_write;
      --busy;
      b.content.clear();
      if (!b.raw) spare.push_back(std::move(b.content));
      cv.notify_all();
    }
  }

  bool failed_now() const { return failed.load(std::memory_order_acquire); }

  // Hands the open block to the compressors (or compresses and writes it here).
  Status close_block() {
    if (block.empty()) return sticky();
    PendingBlock b;
    b.summary = block.summary();
    b.seq = next_seq++;
    if (threads.empty()) {
      inline_frame.clear();
      std::string why;
      const bool ok = inline_compressor.compress(block.content(), inline_frame, why);
      std::lock_guard lock(mu);
      if (!ok) fail_locked(fail(errc::output_error, sink->name(), "zstd: " + why));
      if (!failed) write_frame_locked(b, inline_frame);
      ++next_write;
      block.clear();
      if (failed) return error;
      return {};
    }
    std::unique_lock lock(mu);
    if (queue.size() >= options.queue_blocks) {
      ++stats.queue_full_waits;
      cv.wait(lock, [&] { return queue.size() < options.queue_blocks || failed; });
    }
    std::vector<std::uint8_t> recycled;
    if (!spare.empty()) {
      recycled = std::move(spare.back());
      spare.pop_back();
    }
    b.content = block.take(std::move(recycled));
    queue.push_back(std::move(b));
    cv.notify_all();
    if (failed) return error;
    return {};
  }

  Status drain() {
    Status st = close_block();
    if (!st) return st;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return (queue.empty() && busy == 0) || failed; });
    if (failed) return error;
    return {};
  }
};

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Writer::~Writer() {
  if (impl_ && !impl_->closed) (void)close();
}

Result<std::unique_ptr<Writer>> Writer::open(const std::string& path, fb::FileHeaderT header,
                                             WriterOptions options) {
  auto sink = open_sink(path);
  if (!sink) return sink.take_error();
  return open(std::move(*sink), std::move(header), std::move(options));
}

Result<std::unique_ptr<Writer>> Writer::open(std::unique_ptr<ByteSink> sink,
                                             fb::FileHeaderT header, WriterOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->sink = std::move(sink);
  impl->kind = header.kind;
  header.format_major = kFormatMajor;
  header.format_minor = kFormatMinor;
  header.tool_version = REPRISE_VERSION;
  if (header.created_unix_ns == 0) header.created_unix_ns = unix_now_ns();

  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::FileHeader::Pack(fbb, &header));
  const auto frame = skippable_frame(kHeaderFrameMagic, kHeaderTag, fbb.GetBufferSpan(), false);
  Status st = impl->sink->write(frame);
  if (!st) return st.take_error();
  impl->stats.file_bytes = impl->sink->position();
  impl->block.reserve(impl->options.block_bytes + 4096);
  for (unsigned i = 0; i < impl->options.compress_threads; ++i)
    impl->threads.emplace_back([p = impl.get()] { p->run_worker(); });
  return std::unique_ptr<Writer>(new Writer(std::move(impl)));
}

Status Writer::append(const fb::ExchangeT& exchange) {
  if (impl_->kind != FileKind::Trace)
    return fail(errc::wrong_kind, impl_->sink->name(), "an exchange appended to a run file");
  pack(impl_->fbb, exchange);
  return append_record(impl_->fbb.GetBufferSpan(),
                       {exchange.request_first_ns, exchange.session_id, exchange.connection_id});
}

Status Writer::append(const fb::OutcomeT& outcome) {
  if (impl_->kind != FileKind::Run)
    return fail(errc::wrong_kind, impl_->sink->name(), "an outcome appended to a trace file");
  pack(impl_->fbb, outcome);
  return append_record(impl_->fbb.GetBufferSpan(), {outcome.intended_ns, outcome.session_id, 0});
}

Status Writer::append_interval(const fb::IntervalT& interval) {
  Impl& w = *impl_;
  if (w.closed) return fail(errc::closed, w.sink->name(), "append after close");
  if (w.kind != FileKind::Run)
    return fail(errc::wrong_kind, w.sink->name(), "an interval appended to a trace file");
  if (Status st = w.sticky(); !st) return st;
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::Interval::Pack(fbb, &interval));
  return w.queue_raw(skippable_frame(kIntervalFrameMagic, kIntervalTag, fbb.GetBufferSpan(), false));
}

Status Writer::append_record(std::span<const std::uint8_t> record, const RecordMeta& meta) {
  Impl& w = *impl_;
  if (w.closed) return fail(errc::closed, w.sink->name(), "append after close");
  if (Status st = w.sticky(); !st) return st;
  if (record.size() > w.options.max_record_bytes)
    return fail(errc::record_too_large, w.sink->name(),
                std::to_string(record.size()) + " bytes, limit " +
                    std::to_string(w.options.max_record_bytes));
  if (w.kind == FileKind::Trace && w.have_last && meta.time_ns < w.last_time) {
    std::lock_guard lock(w.mu);
    ++w.stats.out_of_order;
    return fail(errc::out_of_order, w.sink->name(),
                "record starts at " + std::to_string(meta.time_ns) + " ns, before the previous " +
                    std::to_string(w.last_time) + " ns; traces are ordered by request start");
  }
  const auto now = w.options.clock();
  if (!w.block.empty() && w.block.size() + record.size() + kRecordAlign > w.options.block_bytes) {
    {
      std::lock_guard lock(w.mu);
      ++w.stats.blocks_by_size;
    }
    if (Status st = w.close_block(); !st) return st;
  }
  if (w.block.empty()) w.block_opened = now;
  w.block.add(record, meta.time_ns);
  w.last_time = meta.time_ns;
  w.have_last = true;
  w.sessions.add(meta.session_id);
  if (meta.connection_id != 0) w.connections.add(meta.connection_id);
  if (now - w.block_opened >= w.options.flush_interval) {
    {
      std::lock_guard lock(w.mu);
      ++w.stats.blocks_by_interval;
    }
    return w.close_block();
  }
  return {};
}

Status Writer::flush() {
  if (impl_->closed) return fail(errc::closed, impl_->sink->name(), "flush after close");
  return impl_->drain();
}

Status Writer::poll() {
  Impl& w = *impl_;
  if (w.closed || w.block.empty()) return w.sticky();
  if (w.options.clock() - w.block_opened < w.options.flush_interval) return w.sticky();
  {
    std::lock_guard lock(w.mu);
    ++w.stats.blocks_by_interval;
  }
  return w.close_block();
}

Status Writer::close(std::string end_reason) { return close(std::move(end_reason), {}); }

Status Writer::close(std::string end_reason, const std::function<void(fb::FooterT&)>& fill) {
  Impl& w = *impl_;
  if (w.closed) return w.sticky();
  Status st = w.drain();
  {
    std::lock_guard lock(w.mu);
    w.stop = true;
  }
  w.cv.notify_all();
  for (auto& t : w.threads) t.join();
  w.threads.clear();
  w.closed = true;
  if (!st) {
    (void)w.sink->close();
    return st;
  }

  fb::FooterT footer;
  footer.blocks = w.index;
  footer.records = w.stats.records;
  footer.content_bytes = w.stats.content_bytes;
  footer.compressed_bytes = w.stats.compressed_bytes;
  if (!w.index.empty()) {
    footer.first_ns = w.index.front().first_ns();
    footer.last_ns = w.index.front().last_ns();
    for (const auto& b : w.index) {
      footer.first_ns = std::min(footer.first_ns, b.first_ns());
      footer.last_ns = std::max(footer.last_ns, b.last_ns());
    }
  }
  footer.sessions = w.sessions.count();
  footer.connections = w.connections.count();
  footer.distinct_saturated = w.sessions.saturated() || w.connections.saturated();
  footer.end_reason = std::move(end_reason);
  if (fill) fill(footer);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::Footer::Pack(fbb, &footer));
  const auto frame = skippable_frame(kFooterFrameMagic, kFooterTag, fbb.GetBufferSpan(), true);
  st = w.sink->write(frame);
  if (st) st = w.sink->close();
  w.stats.file_bytes = w.sink->position();
  return st;
}

FileKind Writer::kind() const { return impl_->kind; }

WriterStats Writer::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

const std::string& Writer::name() const { return impl_->sink->name(); }

}  // namespace reprise::format
