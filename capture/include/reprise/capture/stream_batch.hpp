#pragma once
// The seam of stream_events.hpp, taken across a thread: StreamBatcher stands in for the real
// StreamSinkFactory on the reassembling side and writes every call into a StreamBatch (stream
// bytes copied: the reassembler's spans only live during the call); a StreamBatchPlayer later
// makes exactly the same calls, in the same order, on the real factory and the sinks it opens.
// So TCP reassembly and HTTP assembly can run on two threads and give what one thread would.
//
// Marks travel with the events: mark(ts) puts a point in the stream at which the player calls
// its mark callback, after every call before it and before any after it (the capture's release
// watermarks, which need the assembler to have seen everything up to that packet).
//
// Sans-I/O and single-threaded on each side: moving batches between threads is the caller's.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "reprise/capture/stream_events.hpp"

namespace reprise::capture {

struct StreamBatch {
  enum class Kind : std::uint8_t { Open, Data, Gap, HalfClose, Close, Release, Mark };
  struct Event {
    Kind kind = Kind::Data;
    Direction dir = Direction::ClientToServer;
    GapCause cause = GapCause::Lost;
    CloseReason reason = CloseReason::EndOfInput;
    std::uint32_t stream = 0;   // the batcher's number for the connection (reused after Release)
    std::int64_t ts_ns = 0;
    std::uint64_t value = 0;    // Data: offset in `bytes`; Gap: bytes missing; Open: index in `opened`
    std::uint64_t size = 0;     // Data: byte count
  };

  std::vector<Event> events;
  std::vector<std::uint8_t> bytes;       // the Data events' bytes, back to back
  std::vector<ConnectionInfo> opened;    // the Open events' connections

  bool empty() const { return events.empty(); }
  // Memory held, near enough to bound a queue of batches by.
  std::size_t held_bytes() const {
    return bytes.size() + events.size() * sizeof(Event) + opened.size() * sizeof(ConnectionInfo);
  }
  // Empties it, keeping the capacity for reuse.
  void clear() {
    events.clear();
    bytes.clear();
    opened.clear();
  }
};

class StreamBatcher final : public StreamSinkFactory {
 public:
  StreamBatcher();
  ~StreamBatcher() override;
  StreamBatcher(const StreamBatcher&) = delete;
  StreamBatcher& operator=(const StreamBatcher&) = delete;

  StreamSink* open(const ConnectionInfo& info) override;
  void release(StreamSink* sink) override;

  // A point in the event stream (see the file comment).
  void mark(std::int64_t ts_ns);

  // The events written since a batch was last swapped out; swap a cleared one in to reuse its
  // capacity.
  StreamBatch& batch() { return batch_; }

 private:
  class Sink;
  StreamBatch batch_;
  std::vector<std::unique_ptr<Sink>> sinks_;  // by stream number
  std::vector<std::uint32_t> free_;           // stream numbers released, for reuse
};

class StreamBatchPlayer {
 public:
  using MarkFn = std::function<void(std::int64_t ts_ns)>;

  // `target` must outlive the player. Sinks it opened and the player never released (a run
  // cut short) stay the target's to close, as they would with the reassembler.
  explicit StreamBatchPlayer(StreamSinkFactory& target);

  // Makes the batch's calls on the target, in order; `on_mark` at each mark.
  void play(const StreamBatch& batch, const MarkFn& on_mark);

 private:
  StreamSinkFactory& target_;
  std::vector<StreamSink*> sinks_;  // by stream number; null when not open
};

}  // namespace reprise::capture
