#pragma once
// IntervalStats: what happened during one interval of a run (one second in run files): counts by
// status class and error kind, bytes, and three latency histograms. Outcomes are filed under the
// interval in which they ended (done_ns), as wrk2 does; merging two intervals (shards of one
// test, or seconds into a window) adds everything, so merged reports are exact.

#include <array>
#include <cstdint>

#include "reprise/replay/histogram.hpp"

namespace reprise::replay {

// The error kinds of a replayed request; the values are those of format::fb::ErrorKind.
enum class OutcomeError : std::uint8_t { None = 0, Connect, Timeout, Reset, Protocol, Shed, Aborted };
inline constexpr std::size_t kOutcomeErrorKinds = 7;

// The numbers of one outcome that statistics need (the run-file record carries more).
struct OutcomeFacts {
  std::int64_t intended_ns = 0;    // when the schedule wanted it sent
  std::int64_t sent_ns = 0;        // first byte written (0 when never sent: shed, connect error)
  std::int64_t first_byte_ns = 0;  // first response byte (0 when none)
  std::int64_t done_ns = 0;        // last response byte, or the error
  std::uint16_t status = 0;        // 0 when there is no response
  OutcomeError error = OutcomeError::None;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;

  // The request was written (sent_ns is 0 for "never sent"; bytes_sent also counts, so a request
  // written at run time 0 is not lost).
  bool was_sent() const { return sent_ns != 0 || bytes_sent != 0; }

  // A failure for error-rate purposes: a transport error or a 5xx status. Shed requests are not
  // failures of the target (they are the generator's; the lateness rules watch them).
  bool failed() const {
    return (error != OutcomeError::None && error != OutcomeError::Shed) || status >= 500;
  }
};

struct IntervalStats {
  std::int64_t start_ns = 0;     // run time of the interval start
  std::int64_t duration_ns = 0;  // 1 s in run files

  std::uint64_t outcomes = 0;                       // every outcome, shed included
  std::uint64_t sent = 0;                           // outcomes whose request was written
  std::uint64_t failed = 0;                         // OutcomeFacts::failed()
  std::array<std::uint64_t, 6> status_classes{};    // [0] no status, [1..5] 1xx..5xx
  std::array<std::uint64_t, kOutcomeErrorKinds> errors{};  // by OutcomeError ([0] = none)
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;

  // Requests that got a complete response (status != 0, error None) feed the latency
  // histograms; every sent request feeds lateness.
  Histogram corrected;  // done - intended: latency as a user waiting since the intended time saw it
  Histogram service;    // done - sent: latency from the actual send
  Histogram lateness;   // sent - intended: how late the generator was (shed: done - intended)

  void add(const OutcomeFacts& o);
  void merge(const IntervalStats& other);
  void clear();  // keeps start_ns and duration_ns
};

}  // namespace reprise::replay
