#include "reprise/capture/packet_capture.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

#include "handoff_queue.hpp"
#include "reprise/capture/error.hpp"
#include "reprise/capture/stream_batch.hpp"

// Three threads, a pipeline. The calling thread (packets) reads packets and runs the packet
// pipeline (decode, TCP reassembly) into a StreamBatcher; a second (http) plays those stream
// events into the ExchangeAssembler; a third (record) runs the TraceRecorder and feeds the writer,
// whose own workers compress. Each hand-off is a bounded queue of batches, in order, so the
// assembler and the recorder see exactly the calls a single thread would make and the trace is
// the same. Release watermarks travel as marks in the stream events: the http thread computes
// each from the assembler once it has seen every packet before it, and passes it to the record
// thread after the exchanges before it. The writer is only touched by the record thread until
// run() joins it.

namespace reprise::capture {
namespace {

// How often (packet time) held exchanges are released and the writer polled: often enough that
// a live capture's trace trails the traffic by about this much.
constexpr std::int64_t kReleaseEveryNs = 100'000'000;
// Per hand-off: the lock and the wake-up are paid once per batch, not per packet or exchange.
constexpr std::size_t kBatchEvents = 4096;
constexpr std::size_t kBatchExchanges = 256;
// Batches queued at each hand-off, and the bytes they hold (stream bytes; exchanges' bodies and
// heads): past either the thread before waits, so a slow disk bounds memory instead of growing
// it. The bytes matter for large bodies: 4096 exchanges of 1 MiB uploads would be 4 GiB.
constexpr std::size_t kMaxQueuedBatches = 16;
constexpr std::size_t kMaxQueuedBytes = std::size_t{64} << 20;
constexpr std::size_t kBatchBytes = kMaxQueuedBytes / kMaxQueuedBatches;

// Memory an exchange holds, near enough for the limit above.
std::size_t held_bytes(const HttpExchange& x) {
  std::size_t n = sizeof x + x.request.body.capacity() + x.response.body.capacity() +
                  x.request.target.capacity();
  for (const auto& [name, value] : x.request.headers) n += name.capacity() + value.capacity();
  for (const auto& [name, value] : x.response.headers) n += name.capacity() + value.capacity();
  return n;
}

// Packets -> http: stream events, then finish() after the last.
struct StreamHandoff {
  StreamBatch stream;
  bool finish = false;

  std::size_t held_bytes() const { return stream.held_bytes(); }
  void clear() {
    stream.clear();
    finish = false;
  }
};

// Http -> record: add these exchanges in order, then release up to the watermark (and poll the
// writer), then finish() if it is the last.
struct ExchangeHandoff {
  std::vector<HttpExchange> exchanges;
  std::size_t bytes = 0;  // held_bytes of the exchanges
  std::optional<std::int64_t> release;
  bool finish = false;

  std::size_t held_bytes() const { return bytes; }
  void clear() {
    exchanges.clear();
    bytes = 0;
    release.reset();
    finish = false;
  }
};

}  // namespace

struct PacketCapture::Impl {
  CaptureOptions options;
  format::Writer& writer;
  std::unique_ptr<PcapSource> source;
  std::unique_ptr<TraceRecorder> recorder;
  std::unique_ptr<ExchangeAssembler> assembler;
  StreamBatcher batcher;
  std::unique_ptr<PacketPipeline> pipeline;
  std::atomic<bool> stop_requested{false};

  // Packets thread.
  HandoffQueue<StreamHandoff> streams{kMaxQueuedBatches, kMaxQueuedBytes};
  bool handoff_failed = false;  // a later thread failed: stop reading
  std::int64_t next_release = 0;  // packet time of the next timed release

  // Http thread.
  std::thread http_thread;
  std::unique_ptr<StreamBatchPlayer> player;
  ExchangeHandoff batch;
  bool record_gone = false;  // the record thread failed: nothing more is handed to it
  std::exception_ptr http_thrown;
  HandoffQueue<ExchangeHandoff> exchanges{kMaxQueuedBatches, kMaxQueuedBytes};

  // Record thread.
  std::thread record_thread;
  std::optional<Error> record_error;
  std::exception_ptr record_thrown;
  // Written by the record thread after each batch: the packets thread stops at max_exchanges.
  std::atomic<std::uint64_t> written{0};

  // Set once nothing more may be handed off (the threads are gone): exchanges the pipeline's
  // teardown still completes are dropped, not pushed into a closed queue.
  bool discarding = false;

  Impl(CaptureOptions o, format::Writer& w) : options(std::move(o)), writer(w) {}
  ~Impl() {
    join();
    discarding = true;
    pipeline.reset();  // its flows complete into the batcher, whose batch is dropped
    player.reset();
    assembler.reset();  // its connections complete exchanges into on_exchange, dropped
  }

  // Packets thread.

  void hand_off_streams(bool finish = false) {
    StreamHandoff h = streams.spare();
    h.finish = finish;
    std::swap(h.stream, batcher.batch());
    if (!streams.push(std::move(h))) handoff_failed = true;
  }

  // A full batch goes on with a release mark at its end, so exchanges wait in the recorder for
  // about one batch of packets, not kReleaseEveryNs: held that long they would have left the
  // cache by the time they are written.
  void after_packet(std::int64_t now_ns) {
    const StreamBatch& b = batcher.batch();
    if (b.events.size() >= kBatchEvents || b.bytes.size() >= kBatchBytes) release(now_ns);
  }

  // Every release, full batch or timed, restarts the kReleaseEveryNs countdown.
  void release(std::int64_t now_ns) {
    batcher.mark(now_ns);
    hand_off_streams();
    next_release = now_ns + kReleaseEveryNs;
  }

  // The end of every run, whatever ended it: open connections are closed as EndOfInput and
  // every exchange is handed on to the recorder, which writes all it holds; then the threads
  // are joined. An exception from a thread is rethrown here, else the record thread's error.
  Status complete(std::int64_t now_ns) {
    if (!handoff_failed) {
      pipeline->finish(now_ns);
      hand_off_streams(/*finish=*/true);
    }
    join();
    // An exception is rethrown here, as if the thread's work had run on the calling thread.
    for (std::exception_ptr* thrown : {&http_thrown, &record_thrown}) {
      if (*thrown) std::rethrow_exception(std::exchange(*thrown, nullptr));
    }
    if (record_error) return *record_error;
    return {};
  }

  void join() {
    streams.close();
    if (http_thread.joinable()) http_thread.join();
    exchanges.close();
    if (record_thread.joinable()) record_thread.join();
  }

  // Http thread.

  void on_exchange(HttpExchange&& x) {
    if (discarding || record_gone) return;
    if (batch.exchanges.capacity() == 0) {
      batch = exchanges.spare();
      batch.exchanges.reserve(kBatchExchanges);
    }
    batch.bytes += held_bytes(x);
    batch.exchanges.push_back(std::move(x));
    if (batch.exchanges.size() >= kBatchExchanges || batch.bytes >= kBatchBytes) hand_off_exchanges();
  }

  void hand_off_exchanges() {
    if (!exchanges.push(std::move(batch))) record_gone = true;
    batch = ExchangeHandoff{};
  }

  void http_loop() {
    try {
      const StreamBatchPlayer::MarkFn on_mark = [this](std::int64_t now_ns) {
        // Every exchange that started before the oldest request still in progress is complete.
        batch.release = std::min(assembler->oldest_open_ns(), now_ns);
        hand_off_exchanges();
      };
      StreamHandoff h;
      while (!record_gone && streams.pop(h)) {
        player->play(h.stream, on_mark);
        const bool finish = h.finish;
        streams.recycle(std::move(h));
        if (finish) {
          batch.finish = true;
          hand_off_exchanges();
        }
      }
    } catch (...) {
      http_thrown = std::current_exception();
    }
    // Stopped early (the record thread failed, or this one threw): the packets thread stops.
    streams.fail();
    exchanges.close();
  }

  // Record thread.

  void record_loop() {
    try {
      ExchangeHandoff b;
      while (exchanges.pop(b)) {
        Status st = apply(b);
        written.store(recorder->stats().written, std::memory_order_relaxed);
        exchanges.recycle(std::move(b));
        if (!st) {
          record_error = st.take_error();
          exchanges.fail();
          return;
        }
      }
    } catch (...) {
      record_thrown = std::current_exception();
      exchanges.fail();
    }
  }

  Status apply(ExchangeHandoff& b) {
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
  p->player = std::make_unique<StreamBatchPlayer>(*p->assembler);
  p->pipeline = std::make_unique<PacketPipeline>(p->batcher, p->options.packets);
  return std::unique_ptr<PacketCapture>(new PacketCapture(std::move(impl)));
}

void PacketCapture::stop() {
  impl_->stop_requested = true;
  impl_->source->stop();
}

Result<CaptureSummary> PacketCapture::run() {
  Impl& s = *impl_;
  s.record_thread = std::thread([&s] { s.record_loop(); });
  s.http_thread = std::thread([&s] { s.http_loop(); });
  // Every return joins both threads first (complete(), or join() in ~Impl).
  CaptureSummary summary;
  summary.stopped_by = "end of input";
  const auto wall_start = std::chrono::steady_clock::now();
  std::int64_t first_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t now_ns = 0;
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
      s.after_packet(now_ns);
    } else if (now_ns != 0) {
      // Live and idle: let packet time move with the clock so idle flows expire.
      now_ns += s.options.live.timeout_ms * 1'000'000LL;
      s.pipeline->expire(now_ns);
      s.after_packet(now_ns);
    }
    if (now_ns >= s.next_release || *next == PcapSource::Next::Idle) s.release(now_ns);
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
  summary.http_handoff_full_waits = s.streams.full_waits();
  summary.record_handoff_full_waits = s.exchanges.full_waits();
  return summary;
}

}  // namespace reprise::capture
