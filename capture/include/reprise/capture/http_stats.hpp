#pragma once
// Counters of the HTTP layer of capture, summed over all connections. Every anomaly the HTTP
// layer handles has one here; the closing summary prints them all through for_each().

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace reprise::capture {

struct HttpStats {
  // Volume.
  std::uint64_t connections = 0;              // sinks opened
  std::uint64_t requests = 0;                 // request messages whose start line was parsed
  std::uint64_t responses = 0;                // final responses (1xx other than 101 excluded)
  std::uint64_t informational_responses = 0;  // interim 1xx (100 Continue, 103 ...) skipped
  std::uint64_t exchanges = 0;                // exchanges handed to the output callback

  // Outcomes of emitted exchanges.
  std::uint64_t no_response = 0;                // emitted with NoResponse
  std::uint64_t orphan_responses = 0;           // emitted without request (has_request false)
  std::uint64_t response_incomplete = 0;        // emitted with ResponseIncomplete
  std::uint64_t request_incomplete = 0;         // emitted with RequestIncomplete
  std::uint64_t gap_exchanges = 0;              // emitted with Gap
  std::uint64_t request_bodies_truncated = 0;   // emitted with RequestBodyTruncated
  std::uint64_t response_bodies_truncated = 0;  // emitted with ResponseBodyTruncated
  std::uint64_t upgrades = 0;                   // emitted with Upgrade (101, CONNECT 2xx)

  // Stream anomalies.
  std::uint64_t parse_errors = 0;          // the parser rejected bytes (header limit included)
  std::uint64_t header_limit_hits = 0;     // a header, chunk line or trailer over max_header_bytes
  std::uint64_t gaps = 0;                  // on_gap calls
  std::uint64_t gap_bytes = 0;             // bytes reported missing by on_gap
  std::uint64_t gaps_in_body = 0;          // gaps absorbed inside a body of known extent
  std::uint64_t midstream_starts = 0;      // directions whose first bytes were no message start
  std::uint64_t resyncs = 0;               // message starts found by scanning after a loss
  std::uint64_t resync_bytes_skipped = 0;  // bytes passed over while looking for a message start
  std::uint64_t bytes_after_upgrade = 0;   // bytes not parsed because the stream was upgraded

  // Limits.
  std::uint64_t pending_limit_hits = 0;   // requests emitted early: max_pending_requests
  std::uint64_t wait_limit_hits = 0;      // a direction stopped waiting: max_header_bytes held
  std::uint64_t pipelined_depth_max = 0;  // most requests awaiting a response at once

  // Calls f(std::string_view name, std::uint64_t value) for every counter, in declaration order.
  template <typename F>
  void for_each(F&& f) const {
    f(std::string_view("connections"), connections);
    f(std::string_view("requests"), requests);
    f(std::string_view("responses"), responses);
    f(std::string_view("informational_responses"), informational_responses);
    f(std::string_view("exchanges"), exchanges);
    f(std::string_view("no_response"), no_response);
    f(std::string_view("orphan_responses"), orphan_responses);
    f(std::string_view("response_incomplete"), response_incomplete);
    f(std::string_view("request_incomplete"), request_incomplete);
    f(std::string_view("gap_exchanges"), gap_exchanges);
    f(std::string_view("request_bodies_truncated"), request_bodies_truncated);
    f(std::string_view("response_bodies_truncated"), response_bodies_truncated);
    f(std::string_view("upgrades"), upgrades);
    f(std::string_view("parse_errors"), parse_errors);
    f(std::string_view("header_limit_hits"), header_limit_hits);
    f(std::string_view("gaps"), gaps);
    f(std::string_view("gap_bytes"), gap_bytes);
    f(std::string_view("gaps_in_body"), gaps_in_body);
    f(std::string_view("midstream_starts"), midstream_starts);
    f(std::string_view("resyncs"), resyncs);
    f(std::string_view("resync_bytes_skipped"), resync_bytes_skipped);
    f(std::string_view("bytes_after_upgrade"), bytes_after_upgrade);
    f(std::string_view("pending_limit_hits"), pending_limit_hits);
    f(std::string_view("wait_limit_hits"), wait_limit_hits);
    f(std::string_view("pipelined_depth_max"), pipelined_depth_max);
  }

  void note_pipelined_depth(std::uint64_t depth) {
    pipelined_depth_max = std::max(pipelined_depth_max, depth);
  }
};

}  // namespace reprise::capture
