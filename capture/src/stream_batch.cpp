#include "reprise/capture/stream_batch.hpp"

#include <stdexcept>

namespace reprise::capture {
namespace {

StreamBatch::Event& add_event(StreamBatch& batch, StreamBatch::Kind kind, std::uint32_t stream,
                              std::int64_t ts_ns) {
  StreamBatch::Event& e = batch.events.emplace_back();
  e.kind = kind;
  e.stream = stream;
  e.ts_ns = ts_ns;
  return e;
}

}  // namespace

// One connection on the reassembling side: each call becomes an event of the batch.
class StreamBatcher::Sink final : public StreamSink {
 public:
  Sink(StreamBatch& batch, std::uint32_t stream) : batch_(batch), stream_(stream) {}

  void on_data(Direction dir, std::span<const std::uint8_t> bytes, std::int64_t ts_ns) override {
    StreamBatch::Event& e = add(StreamBatch::Kind::Data, ts_ns);
    e.dir = dir;
    e.value = batch_.bytes.size();
    e.size = bytes.size();
    batch_.bytes.insert(batch_.bytes.end(), bytes.begin(), bytes.end());
  }
  void on_gap(Direction dir, std::uint64_t missing, std::int64_t ts_ns, GapCause cause) override {
    StreamBatch::Event& e = add(StreamBatch::Kind::Gap, ts_ns);
    e.dir = dir;
    e.value = missing;
    e.cause = cause;
  }
  void on_half_close(Direction dir, std::int64_t ts_ns) override {
    add(StreamBatch::Kind::HalfClose, ts_ns).dir = dir;
  }
  void on_close(CloseReason reason, std::int64_t ts_ns) override {
    add(StreamBatch::Kind::Close, ts_ns).reason = reason;
  }

  std::uint32_t stream() const { return stream_; }

  StreamBatch::Event& add(StreamBatch::Kind kind, std::int64_t ts_ns) {
    return add_event(batch_, kind, stream_, ts_ns);
  }

 private:
  StreamBatch& batch_;
  std::uint32_t stream_;
};

StreamBatcher::StreamBatcher() = default;
StreamBatcher::~StreamBatcher() = default;

StreamSink* StreamBatcher::open(const ConnectionInfo& info) {
  std::uint32_t stream;
  if (!free_.empty()) {
    stream = free_.back();
    free_.pop_back();
  } else {
    stream = static_cast<std::uint32_t>(sinks_.size());
    sinks_.push_back(std::make_unique<Sink>(batch_, stream));
  }
  sinks_[stream]->add(StreamBatch::Kind::Open, info.first_ns).value = batch_.opened.size();
  batch_.opened.push_back(info);
  return sinks_[stream].get();
}

void StreamBatcher::release(StreamSink* sink) {
  auto* s = static_cast<Sink*>(sink);
  s->add(StreamBatch::Kind::Release, 0);
  free_.push_back(s->stream());
}

void StreamBatcher::mark(std::int64_t ts_ns) { add_event(batch_, StreamBatch::Kind::Mark, 0, ts_ns); }

StreamBatchPlayer::StreamBatchPlayer(StreamSinkFactory& target) : target_(target) {}

void StreamBatchPlayer::play(const StreamBatch& batch, const MarkFn& on_mark) {
  for (const StreamBatch::Event& e : batch.events) {
    if (e.kind == StreamBatch::Kind::Mark) {
      on_mark(e.ts_ns);
      continue;
    }
    if (e.kind == StreamBatch::Kind::Open) {
      if (e.stream >= sinks_.size()) sinks_.resize(e.stream + 1, nullptr);
      sinks_[e.stream] = target_.open(batch.opened[e.value]);
      continue;
    }
    // The batcher numbers streams and the batches arrive in order: a stream that is not open
    // here is a broken hand-off, not bad input.
    if (e.stream >= sinks_.size() || sinks_[e.stream] == nullptr)
      throw std::logic_error("StreamBatchPlayer: event for a stream that is not open");
    StreamSink& sink = *sinks_[e.stream];
    switch (e.kind) {
      case StreamBatch::Kind::Data:
        sink.on_data(e.dir, std::span(batch.bytes).subspan(e.value, e.size), e.ts_ns);
        break;
      case StreamBatch::Kind::Gap: sink.on_gap(e.dir, e.value, e.ts_ns, e.cause); break;
      case StreamBatch::Kind::HalfClose: sink.on_half_close(e.dir, e.ts_ns); break;
      case StreamBatch::Kind::Close: sink.on_close(e.reason, e.ts_ns); break;
      case StreamBatch::Kind::Release:
        target_.release(&sink);
        sinks_[e.stream] = nullptr;
        break;
      case StreamBatch::Kind::Open:
      case StreamBatch::Kind::Mark: break;  // handled above
    }
  }
}

}  // namespace reprise::capture
