#include "reprise/capture/packet_capture.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "reprise/capture/error.hpp"

// Two threads. The calling thread (parse) reads packets and runs the pipeline and the assembler;
// a second one (record) runs the TraceRecorder and feeds the writer, whose own workers compress.
// Exchanges cross in batches with the release watermarks between them, in the order they were
// produced, so the recorder sees exactly the add()/release() sequence a single thread would make
// and the trace is the same. The watermark is computed on the parse thread, which owns the
// assembler; the writer is only touched by the record thread until run() joins it.

namespace reprise::capture {
namespace {

// How often (packet time) held exchanges are released and the writer polled: often enough that
// a live capture's trace trails the traffic by about this much.
constexpr std::int64_t kReleaseEveryNs = 100'000'000;
// Exchanges per hand-off: the lock and the wake-up are paid once per batch, not per exchange.
constexpr std::size_t kBatchExchanges = 256;
// Batches queued for the record thread, and the bytes they hold (bodies and heads): past either
// the parse thread waits, so a slow disk bounds memory instead of growing it. The bytes matter
// for large bodies: 4096 exchanges of 1 MiB uploads would be 4 GiB.
constexpr std::size_t kMaxQueuedBatches = 16;
constexpr std::size_t kMaxQueuedBytes = std::size_t{64} << 20;

// Memory an exchange holds, near enough for the limit above.
std::size_t held_bytes(const HttpExchange& x) {
  std::size_t n = sizeof x + x.request.body.capacity() + x.response.body.capacity() +
                  x.request.target.capacity();
  for (const auto& [name, value] : x.request.headers) n += name.capacity() + value.capacity();
  for (const auto& [name, value] : x.response.headers) n += name.capacity() + value.capacity();
  return n;
}

// One hand-off: add these exchanges in order, then release up to the watermark (and poll the
// writer), then finish() if it is the last.
struct Batch {
  std::vector<HttpExchange> exchanges;
  std::size_t bytes = 0;  // held_bytes of the exchanges
  std::optional<std::int64_t> release;
  bool finish = false;
};

// Bounded single-producer, single-consumer queue of batches; emptied exchange vectors travel back
// so their capacity is reused.
class BatchQueue {
 public:
  // Waits while the queue is full (a batch bigger than the byte limit waits for an empty
  // queue). False (the batch dropped) once the consumer has failed.
  bool push(Batch&& b) {
    std::unique_lock lock(mu_);
    const auto room = [&] {
      return q_.empty() || (q_.size() < kMaxQueuedBatches && bytes_ + b.bytes <= kMaxQueuedBytes);
    };
    if (!room() && !failed_) ++full_waits_;
    not_full_.wait(lock, [&] { return room() || failed_; });
    if (failed_) return false;
    bytes_ += b.bytes;
    q_.push_back(std::move(b));
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }
  // Waits for a batch; false when the producer closed the queue and it is empty.
  bool pop(Batch& b) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    b = std::move(q_.front());
    q_.pop_front();
    bytes_ -= b.bytes;
    lock.unlock();
    not_full_.notify_one();
    return true;
  }
  void close() {
    { std::lock_guard lock(mu_); closed_ = true; }
    not_empty_.notify_one();
  }
  // The consumer stops taking: the producer's waits and pushes return.
  void fail() {
    { std::lock_guard lock(mu_); failed_ = true; q_.clear(); bytes_ = 0; }
    not_full_.notify_one();
  }
  // Vectors come back for reuse, as many as can be in use at once (release-only batches of an
  // idle live capture carry none worth keeping).
  void recycle(std::vector<HttpExchange>&& v) {
    if (v.capacity() == 0) return;
    v.clear();
    std::lock_guard lock(mu_);
    if (spares_.size() <= kMaxQueuedBatches) spares_.push_back(std::move(v));
  }
  std::vector<HttpExchange> spare() {
    std::lock_guard lock(mu_);
    if (spares_.empty()) return {};
    std::vector<HttpExchange> v = std::move(spares_.back());
    spares_.pop_back();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Batch> q_;
  std::size_t bytes_ = 0;  // Batch::bytes of q_
  std::vector<std::vector<HttpExchange>> spares_;
  std::uint64_t full_waits_ = 0;  // times the parse thread waited for room

 public:
  std::uint64_t full_waits() {
    std::lock_guard lock(mu_);
    return full_waits_;
  }

 private:
  bool closed_ = false;
  bool failed_ = false;
};

}  // namespace

struct PacketCapture::Impl {
  CaptureOptions options;
  format::Writer& writer;
  std::unique_ptr<PcapSource> source;
  std::unique_ptr<TraceRecorder> recorder;
  std::unique_ptr<ExchangeAssembler> assembler;
  std::unique_ptr<PacketPipeline> pipeline;
  std::atomic<bool> stop_requested{false};

  // Parse thread.
  Batch batch;
  std::uint64_t produced = 0;   // exchanges assembled (the recorder's exchanges_in, once added)
  bool handoff_failed = false;  // the record thread failed: stop parsing
  BatchQueue queue;
  // Record thread; read by the parse thread only after joining it.
  std::thread record_thread;
  std::optional<Error> failure;
  std::exception_ptr thrown;  // rethrown by run(), as if the recorder had run on its thread

  // Written by the record thread after each batch: the parse thread stops at max_exchanges.
  std::atomic<std::uint64_t> written{0};
  // Set once nothing more may be handed off (the record thread is gone): exchanges the
  // pipeline's teardown still completes are dropped, not pushed into a closed queue.
  bool discarding = false;

  Impl(CaptureOptions o, format::Writer& w) : options(std::move(o)), writer(w) {}
  ~Impl() {
    join();
    discarding = true;
    pipeline.reset();  // its flows complete exchanges into on_exchange, while all else lives
    assembler.reset();
  }

  void on_exchange(HttpExchange&& x) {
    if (discarding) return;
    ++produced;
    if (batch.exchanges.capacity() == 0) {
      batch.exchanges = queue.spare();
      batch.exchanges.reserve(kBatchExchanges);
    }
    batch.bytes += held_bytes(x);
    batch.exchanges.push_back(std::move(x));
    if (batch.exchanges.size() >= kBatchExchanges || batch.bytes >= kMaxQueuedBytes / kMaxQueuedBatches)
      hand_off();
  }

  void hand_off() {
    if (!queue.push(std::move(batch))) handoff_failed = true;
    batch = Batch{};
  }

  void release(std::int64_t now_ns) {
    // Every exchange that started before the oldest request still in progress is complete.
    batch.release = std::min(assembler->oldest_open_ns(), now_ns);
    hand_off();
  }

  void join() {
    if (!record_thread.joinable()) return;
    queue.close();
    record_thread.join();
  }

  // The end of every run, whatever ended it: open connections are closed as EndOfInput and
  // every exchange is handed to the recorder, which writes all it holds; then the record
  // thread is joined. Its error, or its exception rethrown here.
  Status complete(std::int64_t now_ns) {
    if (!handoff_failed) {
      pipeline->finish(now_ns);
      batch.finish = true;
      hand_off();
    }
    return finish_recording();
  }

  // Joins the record thread: its error, or its exception rethrown here.
  Status finish_recording() {
    join();
    if (thrown) std::rethrow_exception(std::exchange(thrown, nullptr));
    if (failure) return *failure;
    return {};
  }

  void record_loop() {
    try {
      Batch b;
      while (queue.pop(b)) {
        Status st = apply(b);
        written.store(recorder->stats().written, std::memory_order_relaxed);
        queue.recycle(std::move(b.exchanges));
        if (!st) {
          failure = st.take_error();
          queue.fail();
          return;
        }
      }
    } catch (...) {
      thrown = std::current_exception();
      queue.fail();
    }
  }

  Status apply(Batch& b) {
    for (auto& x : b.exchanges)
      if (Status st = recorder->add(std::move(x)); !st) return st;
    if (b.release) {
      if (Status st = recorder->release(*b.release); !st) return st;
      if (Status st = writer.poll(); !st) return st;
    }
    if (b.finish) return recorder->finish();
    return {};
  }
};

PacketCapture::PacketCapture(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PacketCapture::~PacketCapture() = default;

Result<std::unique_ptr<PacketCapture>> PacketCapture::open(CaptureOptions options,
                                                           format::Writer& writer) {
  if (options.files.empty() == options.interface.empty())
    return fail(errc::bad_option, "--pcap/-i", "give pcap files or one live interface");
  if (Status st = options.packets.validate(); !st) return st.take_error();
  if (Status st = ExchangeAssembler::validate(options.http); !st) return st.take_error();
  if (options.recorder.sample <= 0.0 || options.recorder.sample > 1.0)
    return fail(errc::bad_option, "--sample", "must be in (0%, 100%]");

  auto impl = std::make_unique<Impl>(std::move(options), writer);
  Impl* p = impl.get();
  auto source = p->options.files.empty()
                    ? PcapSource::open_live(p->options.interface, p->options.filter, p->options.live)
                    : PcapSource::open_files(p->options.files, p->options.filter);
  if (!source) return source.take_error();
  p->source = std::move(*source);
  p->options.recorder.max_written = p->options.max_exchanges;
  p->recorder = std::make_unique<TraceRecorder>(writer, p->options.recorder);
  p->assembler = std::make_unique<ExchangeAssembler>(
      p->options.http, [p](HttpExchange&& x) { p->on_exchange(std::move(x)); });
  p->pipeline = std::make_unique<PacketPipeline>(*p->assembler, p->options.packets);
  return std::unique_ptr<PacketCapture>(new PacketCapture(std::move(impl)));
}

void PacketCapture::stop() {
  impl_->stop_requested = true;
  impl_->source->stop();
}

Result<CaptureSummary> PacketCapture::run() {
  Impl& s = *impl_;
  s.record_thread = std::thread([&s] { s.record_loop(); });
  // Every return joins the record thread first (finish_recording, or join in ~Impl).
  CaptureSummary summary;
  summary.stopped_by = "end of input";
  const auto wall_start = std::chrono::steady_clock::now();
  std::int64_t first_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t now_ns = 0, next_release = 0;
  Packet packet;
  std::optional<Error> input_error;  // reported after what was read is written
  for (;;) {
    auto next = s.source->next(packet);
    if (!next) {
      input_error = next.take_error();
      break;
    }
    if (*next == PcapSource::Next::End) {
      if (s.stop_requested) summary.stopped_by = "signal";
      break;
    }
    if (*next == PcapSource::Next::Packet) {
      now_ns = packet.ts_ns;
      if (first_ns == std::numeric_limits<std::int64_t>::min()) first_ns = now_ns;
      s.pipeline->add(packet.link_type, packet.data, packet.wire_length, packet.ts_ns);
    } else if (now_ns != 0) {
      // Live and idle: let packet time move with the clock so idle flows expire.
      now_ns += s.options.live.timeout_ms * 1'000'000LL;
      s.pipeline->expire(now_ns);
    }
    if (now_ns >= next_release || *next == PcapSource::Next::Idle) {
      s.release(now_ns);
      next_release = now_ns + kReleaseEveryNs;
    }
    if (s.handoff_failed) break;
    if (s.options.max_exchanges != 0 &&
        s.written.load(std::memory_order_relaxed) >= s.options.max_exchanges) {
      summary.stopped_by = "max-exchanges";
      break;
    }
    if (s.options.duration_ns != 0) {
      const std::int64_t elapsed =
          s.source->live() ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now() - wall_start)
                                 .count()
                           : now_ns - first_ns;
      if (elapsed >= s.options.duration_ns) {
        summary.stopped_by = "duration";
        break;
      }
    }
  }
  if (Status st = s.complete(now_ns); !st) return st.take_error();
  if (input_error) return *input_error;
  summary.packets = s.pipeline->stats();
  summary.http = s.assembler->stats();
  summary.recorder = s.recorder->stats();
  summary.sessions = s.recorder->session_stats();
  summary.source = s.source->stats();
  summary.handoff_full_waits = s.queue.full_waits();
  return summary;
}

}  // namespace reprise::capture
