#pragma once
// A StreamSinkFactory that records every connection's events, for assertions on the reassembler
// (and anything else that drives StreamSinks). Events render as short strings:
//   "C:GET / HTTP/1.1@100"   data client→server at ts 100
//   "S:gap(5)@200"           5 bytes missing server→client
//   "C:fin@300"              half-close of the client direction
//   "close:Fin@300"          on_close

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "reprise/capture/stream_events.hpp"

namespace reprise::test {

inline std::string to_string(capture::CloseReason r) {
  switch (r) {
    case capture::CloseReason::Fin: return "Fin";
    case capture::CloseReason::Reset: return "Reset";
    case capture::CloseReason::IdleExpired: return "IdleExpired";
    case capture::CloseReason::Evicted: return "Evicted";
    case capture::CloseReason::EndOfInput: return "EndOfInput";
  }
  return "?";
}

class RecordingSink final : public capture::StreamSink {
 public:
  explicit RecordingSink(const capture::ConnectionInfo& i) : info(i) {}

  void on_data(capture::Direction dir, std::span<const std::uint8_t> bytes,
               std::int64_t ts_ns) override {
    check_open();
    const std::string text(bytes.begin(), bytes.end());
    events.push_back(tag(dir) + text + "@" + std::to_string(ts_ns));
    (dir == capture::Direction::ClientToServer ? client_bytes : server_bytes) += text;
  }
  // "gap(N)" for packets lost, "gap(N,snaplen)" for a payload the snaplen cut.
  void on_gap(capture::Direction dir, std::uint64_t missing, std::int64_t ts_ns,
              capture::GapCause cause) override {
    check_open();
    events.push_back(tag(dir) + "gap(" + std::to_string(missing) +
                     (cause == capture::GapCause::Snaplen ? ",snaplen" : "") + ")@" + std::to_string(ts_ns));
  }
  void on_half_close(capture::Direction dir, std::int64_t ts_ns) override {
    check_open();
    events.push_back(tag(dir) + "fin@" + std::to_string(ts_ns));
  }
  void on_close(capture::CloseReason reason, std::int64_t ts_ns) override {
    check_open();
    closed = true;
    close_reason = reason;
    events.push_back("close:" + to_string(reason) + "@" + std::to_string(ts_ns));
  }

  capture::ConnectionInfo info;
  std::vector<std::string> events;
  std::string client_bytes;  // all data client→server, concatenated
  std::string server_bytes;
  bool closed = false;
  bool released = false;
  bool released_open = false;  // released without on_close
  capture::CloseReason close_reason = capture::CloseReason::EndOfInput;

 private:
  static std::string tag(capture::Direction d) {
    return d == capture::Direction::ClientToServer ? "C:" : "S:";
  }
  // The contract: nothing after on_close or release.
  void check_open() const {
    if (closed || released) throw std::logic_error("event after close");
  }
};

class RecordingFactory final : public capture::StreamSinkFactory {
 public:
  capture::StreamSink* open(const capture::ConnectionInfo& info) override {
    sinks.push_back(std::make_unique<RecordingSink>(info));
    return sinks.back().get();
  }
  void release(capture::StreamSink* sink) override {
    for (auto& s : sinks) {
      if (s.get() == sink) {
        if (s->released) throw std::logic_error("released twice");
        // Only a reassembler destroyed without finish() releases a sink that is still open.
        s->released_open = !s->closed;
        s->released = true;
        return;
      }
    }
    throw std::logic_error("release of an unknown sink");
  }

  // The sink of connection `id`; throws when it was never opened.
  RecordingSink& connection(std::uint64_t id) {
    for (auto& s : sinks) {
      if (s->info.connection_id == id) return *s;
    }
    throw std::out_of_range("no connection " + std::to_string(id));
  }

  std::vector<std::unique_ptr<RecordingSink>> sinks;  // in order of open()
};

}  // namespace reprise::test
