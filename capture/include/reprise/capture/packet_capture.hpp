#pragma once
// PacketCapture: the capture pipeline end to end — PcapSource → PacketPipeline (decode, TCP
// reassembly) → ExchangeAssembler (HTTP) → TraceRecorder → format::Writer. Reading and TCP
// reassembly run on the calling thread, HTTP assembly on a second, the recorder and the writer's
// appends on a third (the writer is not touched by anyone else meanwhile); run() starts and joins
// them; the writer compresses on its own workers. The trace is the same as with one thread.
//
// It stops at the end of the input, after `duration` (live: wall time; files: packet time from
// the first packet), once `max_exchanges` are written (after filters and sampling; exactly that
// many, those that started first), when stop() is called (a signal), or on an input error (a
// file cut mid-packet). On any stop it completes what can be completed — open connections are
// closed as EndOfInput, held exchanges are written — and the caller then closes the writer, so
// nothing parsed is lost; an input error is returned after that.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "reprise/capture/exchange_assembler.hpp"
#include "reprise/capture/packet_pipeline.hpp"
#include "reprise/capture/pcap_source.hpp"
#include "reprise/capture/trace_recorder.hpp"
#include "reprise/format/writer.hpp"

namespace reprise::capture {

struct CaptureOptions {
  std::vector<std::string> files;  // pcap/pcapng inputs, merged by time; or
  std::string interface;           // a live interface
  std::string filter;              // BPF
  LiveOptions live;
  PacketPipeline::Options packets;
  ExchangeAssembler::Options http;
  RecorderOptions recorder;
  std::int64_t duration_ns = 0;    // 0: no limit
  std::uint64_t max_exchanges = 0; // 0: no limit
};

struct CaptureSummary {
  PacketStats packets;
  HttpStats http;
  RecorderStats recorder;
  SessionStats sessions;
  SourceStats source;
  format::WriterStats writer;
  std::uint64_t http_handoff_full_waits = 0;    // times packet reading waited for HTTP parsing
  std::uint64_t record_handoff_full_waits = 0;  // times HTTP parsing waited for the recording
  std::string stopped_by;  // "end of input", "duration", "max-exchanges", "signal"

  // Every counter, as ("group.name", value), for the summary and --stats-json.
  template <typename F>
  void for_each(F&& f) const {
    f("source.packets", source.packets);
    f("source.kernel_received", source.kernel_received);
    f("source.kernel_dropped", source.kernel_dropped);
    f("source.interface_dropped", source.interface_dropped);
    packets.for_each(f);
    http.for_each([&](auto name, auto value) { f("http." + std::string(name), value); });
    recorder.for_each([&](auto name, auto value) { f("trace." + std::string(name), value); });
    f("trace.sessions", sessions.sessions);
    f("trace.sessions_linked_by_cookie_or_token", sessions.linked_by_cookie);
    f("trace.session_marks_forgotten", sessions.marks_forgotten);
    f("capture.http_handoff_full_waits", http_handoff_full_waits);
    f("capture.record_handoff_full_waits", record_handoff_full_waits);
    f("trace.writer_queue_full_waits", writer.queue_full_waits);
    f("trace.blocks", writer.blocks);
    f("trace.content_bytes", writer.content_bytes);
    f("trace.file_bytes", writer.file_bytes);
  }
};

class PacketCapture {
 public:
  // Checks every option (errc::bad_option naming it) and opens the source (errc::source_error).
  static Result<std::unique_ptr<PacketCapture>> open(CaptureOptions options, format::Writer& writer);
  ~PacketCapture();

  // Runs to the end (see the file comment). Errors: source_error, output_error.
  Result<CaptureSummary> run();
  // Async-signal-safe: makes run() wind down and return.
  void stop();

 private:
  struct Impl;
  explicit PacketCapture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reprise::capture
