#pragma once
// TraceRecorder: assembled exchanges → trace records. Shared by packet capture and the proxy so
// both group sessions, filter, sample and redact the same way.
//
// Order: exchanges arrive when they complete, but a trace is ordered by request start. The
// recorder holds them in a reorder buffer and writes, in start order, every exchange that began
// before the *watermark* the driver passes to release() — the start of the oldest request still
// in progress, so nothing that could still arrive is older. The buffer is bounded
// (`reorder_max_bytes`): past it the oldest exchanges are written early (counted), and an
// exchange that then arrives older than the last one written is written with its start clamped
// and the Late flag (counted) — never dropped.
//
// Per exchange, in this order: session (SessionGrouper, which sees every exchange so that a
// filtered-out login still links its session), sampling by session, filters, redaction, then the
// record. Ids count from 1 in write order.
//
// Two halves: prepare() does what depends on the exchange alone — its session marks, the
// filters, redaction and the serialized record — and may run on any thread (the proxy's
// workers, while the exchange is in their cache); add(PreparedExchange) does the rest on the
// recorder's thread (session, sampling, order, id). add(HttpExchange) is both in one call.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <regex>
#include <string>
#include <vector>

#include "reprise/capture/http_exchange.hpp"
#include "reprise/capture/session_grouper.hpp"
#include "reprise/format/writer.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

struct RecorderOptions {
  SessionOptions session;
  std::vector<std::string> hosts;        // keep only these Host values (case-insensitive); empty: all
  std::optional<std::regex> path;        // keep only targets where this regex matches (search)
  std::vector<std::string> methods;      // keep only these methods; empty: all
  double sample = 1.0;                   // fraction of sessions kept, whole sessions
  std::uint64_t sample_seed = 0;
  std::vector<std::string> redact_headers;  // values replaced by "redacted:<hash>" (stable)
  std::vector<std::regex> redact_body;      // matches in bodies replaced by "redacted:<hash>"
  std::size_t reorder_max_bytes = std::size_t{64} << 20;
  // Exchanges written at most (0: no limit), counted after the filters and sampling; later
  // ones are counted in beyond_max, not written.
  std::uint64_t max_written = 0;
};

struct RecorderStats {
  std::uint64_t exchanges_in = 0;
  std::uint64_t written = 0;
  std::uint64_t filtered_host = 0;
  std::uint64_t filtered_path = 0;
  std::uint64_t filtered_method = 0;
  std::uint64_t sampled_out = 0;
  std::uint64_t redacted = 0;          // exchanges with at least one redaction
  std::uint64_t late = 0;              // written with the Late flag
  std::uint64_t forced_releases = 0;   // written early because the reorder buffer was full
  std::uint64_t reorder_peak_bytes = 0;
  std::uint64_t orphan_responses = 0;  // responses whose request was never seen
  std::uint64_t no_response = 0;
  std::uint64_t beyond_max = 0;        // not written: max_written reached

  template <typename F>
  void for_each(F&& f) const {
    f("exchanges_assembled", exchanges_in);
    f("exchanges_written", written);
    f("filtered_by_host", filtered_host);
    f("filtered_by_path", filtered_path);
    f("filtered_by_method", filtered_method);
    f("sampled_out", sampled_out);
    f("exchanges_redacted", redacted);
    f("late_exchanges", late);
    f("reorder_forced_releases", forced_releases);
    f("reorder_peak_bytes", reorder_peak_bytes);
    f("responses_without_request", orphan_responses);
    f("requests_without_response", no_response);
    f("beyond_max_exchanges", beyond_max);
  }
};

// An exchange ready for the trace: the record is built, what its session depends on taken out.
struct PreparedExchange {
  enum class Filtered : std::uint8_t { No, Method, Host, Path };
  // The size-prefixed Exchange record (empty when filtered out); its id, session_id and
  // request_first_ns are set when it is written, and the Late flag when it is late.
  std::vector<std::uint8_t> record;
  SessionMarks marks;
  std::int64_t start = 0;  // request_first_ns
  Filtered filtered = Filtered::No;
  bool redacted = false, has_request = false, has_response = false;
  std::size_t bytes = 0;    // memory it holds, for the reorder limit
};

class TraceRecorder {
 public:
  // `writer` must be a trace writer and outlive the recorder.
  TraceRecorder(format::Writer& writer, RecorderOptions options);
  ~TraceRecorder();  // exchanges still held are dropped: call finish() to write them
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  // Any thread, concurrently with the calls below: reads only the options.
  PreparedExchange prepare(HttpExchange&& x) const;
  // The same into `into`, every field set, reusing the record's capacity.
  void prepare(HttpExchange&& x, PreparedExchange& into) const;
  // Takes one finished exchange; it is written by a later release() or finish().
  Status add(PreparedExchange&& p);
  // The same, prepared here into a held exchange written before: no allocation per exchange
  // once the reorder buffer has reached its usual depth.
  Status add(HttpExchange&& x);
  // Writes every held exchange that started before `watermark_ns`.
  Status release(std::int64_t watermark_ns);
  // Writes everything held (end of input).
  Status finish();

  const RecorderStats& stats() const { return stats_; }
  const SessionStats& session_stats() const { return sessions_.stats(); }

 private:
  // The heap orders on keys stored inline, so sifting does not chase pointers.
  struct Entry {
    std::int64_t start;
    std::uint64_t seq;  // arrival order, to keep ties stable
    PreparedExchange* held;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.start != b.start ? a.start > b.start : a.seq > b.seq;
    }
  };
  bool held_empty() const { return heap_.empty() && in_order_.empty(); }
  std::size_t held_count() const { return heap_.size() + in_order_.size(); }
  // The oldest held exchange (smallest start, then arrival). Precondition: !held_empty().
  const Entry& oldest() const;
  std::unique_ptr<PreparedExchange> pop();
  Status write_oldest();  // pops the oldest, writes it and keeps it as a spare
  Status hold(std::unique_ptr<PreparedExchange> p);

  Status write_one(PreparedExchange& p);
  PreparedExchange::Filtered filtered(const HttpExchange& x) const;
  bool redact(HttpExchange& x) const;

  format::Writer& writer_;
  RecorderOptions options_;
  SessionGrouper sessions_;
  RecorderStats stats_;
  // Exchanges mostly arrive in start order: one that starts no earlier than the last in
  // in_order_ is appended there (sorted by construction, O(1)); the rest go to the heap. The
  // oldest is the older of the two fronts, so the write order is the same as with one heap.
  std::deque<Entry> in_order_;
  std::priority_queue<Entry, std::vector<Entry>, Later> heap_;
  std::size_t held_bytes_ = 0;
  // Written exchanges kept for add(HttpExchange&&) to prepare into, their records' capacity
  // kept: a buffer written out a moment ago is still in the cache when the next record reuses
  // it. At most kMaxSpareBytes of record capacity (one batch between releases of small
  // exchanges), none over kMaxSpareRecordBytes.
  static constexpr std::size_t kMaxSpareBytes = std::size_t{4} << 20;
  static constexpr std::size_t kMaxSpareRecordBytes = std::size_t{64} << 10;
  std::vector<std::unique_ptr<PreparedExchange>> spares_;
  std::size_t spare_bytes_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t next_id_ = 1;
  std::int64_t last_written_ns_ = INT64_MIN;
};

}  // namespace reprise::capture
