#include "reprise/capture/packet_capture.hpp"

#include <chrono>
#include <limits>

#include "reprise/capture/error.hpp"

namespace reprise::capture {
namespace {

// How often (packet time) held exchanges are released and the writer polled: often enough that
// a live capture's trace trails the traffic by about this much.
constexpr std::int64_t kReleaseEveryNs = 100'000'000;

}  // namespace

struct PacketCapture::Impl {
  CaptureOptions options;
  format::Writer& writer;
  std::unique_ptr<PcapSource> source;
  std::unique_ptr<TraceRecorder> recorder;
  std::unique_ptr<ExchangeAssembler> assembler;
  std::unique_ptr<PacketPipeline> pipeline;
  std::optional<Error> failure;  // from the assembler's output callback
  std::atomic<bool> stop_requested{false};

  Impl(CaptureOptions o, format::Writer& w) : options(std::move(o)), writer(w) {}

  Status release(std::int64_t now_ns) {
    // Every exchange that started before the oldest request still in progress is complete.
    const std::int64_t open = assembler->oldest_open_ns();
    if (Status st = recorder->release(std::min(open, now_ns)); !st) return st;
    return writer.poll();
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
  p->recorder = std::make_unique<TraceRecorder>(writer, p->options.recorder);
  p->assembler = std::make_unique<ExchangeAssembler>(p->options.http, [p](HttpExchange&& x) {
    if (p->failure) return;
    if (Status st = p->recorder->add(std::move(x)); !st) p->failure = st.take_error();
  });
  p->pipeline = std::make_unique<PacketPipeline>(*p->assembler, p->options.packets);
  return std::unique_ptr<PacketCapture>(new PacketCapture(std::move(impl)));
}

void PacketCapture::stop() {
  impl_->stop_requested = true;
  impl_->source->stop();
}

Result<CaptureSummary> PacketCapture::run() {
  Impl& s = *impl_;
  CaptureSummary summary;
  summary.stopped_by = "end of input";
  const auto wall_start = std::chrono::steady_clock::now();
  std::int64_t first_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t now_ns = 0, next_release = 0;
  Packet packet;
  for (;;) {
    auto next = s.source->next(packet);
    if (!next) return next.take_error();
    if (*next == PcapSource::Next::End) {
      if (s.stop_requested) summary.stopped_by = "signal";
      break;
    }
    if (*next == PcapSource::Next::Packet) {
      now_ns = packet.ts_ns;
      if (first_ns == std::numeric_limits<std::int64_t>::min()) first_ns = now_ns;
      s.pipeline->add(packet.link_type, packet.data, packet.wire_length, packet.ts_ns);
      if (s.failure) return *s.failure;
    } else if (now_ns != 0) {
      // Live and idle: let packet time move with the clock so idle flows expire.
      now_ns += s.options.live.timeout_ms * 1'000'000LL;
      s.pipeline->expire(now_ns);
    }
    if (now_ns >= next_release || *next == PcapSource::Next::Idle) {
      if (Status st = s.release(now_ns); !st) return st.take_error();
      next_release = now_ns + kReleaseEveryNs;
    }
    if (s.options.max_exchanges != 0 && s.recorder->stats().exchanges_in >= s.options.max_exchanges) {
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
  // Complete what can be completed: close every connection, write every held exchange.
  s.pipeline->finish(now_ns);
  if (s.failure) return *s.failure;
  if (Status st = s.recorder->finish(); !st) return st.take_error();
  summary.packets = s.pipeline->stats();
  summary.http = s.assembler->stats();
  summary.recorder = s.recorder->stats();
  summary.sessions = s.recorder->session_stats();
  summary.source = s.source->stats();
  return summary;
}

}  // namespace reprise::capture
