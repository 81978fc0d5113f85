#pragma once
// CorrelationTracker: follows the correlation rules through the recorded trace, on the reader
// thread, and tells each recorded request which of its bytes are values an earlier response of
// its session handed out. Sans-I/O: exchanges in (trace order), RequestCorrelation out.
//
// For every exchange of a session, in trace order:
//   1. its request (the bytes to be sent, after rewrites) is searched for the values the
//      session's earlier responses carried (available once that response ended): each one found
//      is a Need — the producing exchange, the rule and place, the recorded value;
//   2. its response is searched with every rule (extract_values): if anything is found the
//      exchange is a producer, and at replay its replayed response is searched the same way.
// The result is shared by every clone of the exchange: SessionClones (the network thread)
// substitutes each clone's own values.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reprise/replay/correlation_settings.hpp"

namespace reprise::replay {

class SessionValues;

// A value a request carries that its clone must replace with its own.
struct Need {
  std::uint64_t producer = 0;  // exchange id whose response carried it
  std::uint32_t rule = 0;      // index into CorrelationSettings::rules
  std::string place;
  std::string recorded;
  bool encoded = false;        // the request carries it percent-encoded
};

// What the network thread needs to make one recorded request a clone's own.
struct TraceRequest;  // schedule.hpp

struct RequestCorrelation {
  bool producer = false;       // its response carries values (searched at replay)
  std::vector<Need> needs;
  bool clone_placeholder = false;  // the head holds "{clone}" (from --set-header/--rewrite-path)
  bool clone_fields = false;       // a --clone-rewrite field is present
  bool cookie_header = false;      // it carries a Cookie header (the jar may rewrite it)
  std::string host;                // the Host it is sent with (port stripped) for the jar
  std::string path;                // its path, for the jar

  // Nothing in it differs between clones: no values to substitute, no cookies for a jar to
  // rewrite, no {clone} placeholder or --clone-rewrite field.
  bool clone_invariant() const {
    return needs.empty() && !cookie_header && !clone_placeholder && !clone_fields;
  }
};

// Sets r.correlation and the facts TraceRequest copies from it.
void attach_correlation(TraceRequest& r, std::shared_ptr<const RequestCorrelation> c);

struct TrackerStats {
  std::uint64_t producers = 0;        // exchanges whose recorded response had values
  std::uint64_t values_found = 0;     // values found in recorded responses
  std::uint64_t needs = 0;            // values found in later requests
  std::uint64_t values_not_identifiers = 0;  // found by a rule, not followed (looks_like_token)
  std::uint64_t sessions_forgotten = 0;
  std::uint64_t values_forgotten = 0;
};

class CorrelationTracker {
 public:
  explicit CorrelationTracker(const CorrelationSettings& settings);
  ~CorrelationTracker();
  CorrelationTracker(const CorrelationTracker&) = delete;
  CorrelationTracker& operator=(const CorrelationTracker&) = delete;

  // One recorded exchange, in trace order. `wire`: the request as it will be sent;
  // `response`: null when none was recorded. Returns null only with correlation off: with it on
  // every request carries its host and path, since any replayed answer may set a cookie.
  std::shared_ptr<const RequestCorrelation> observe(std::uint64_t session, std::uint64_t exchange,
                                                    std::int64_t request_ns, std::string_view wire,
                                                    const ResponseView* response,
                                                    std::int64_t response_end_ns);

  // Whether observe() reads recorded responses (value rules are set); when not, callers may
  // pass null and spare building the view.
  bool reads_responses() const { return settings_.enabled && !settings_.rules.empty(); }

  TrackerStats stats() const;

 private:
  const CorrelationSettings& settings_;
  std::unique_ptr<SessionValues> values_;
  TrackerStats stats_;
};

// Host (without port) and path of a request as sent: for the cookie jar.
void request_host_path(std::string_view wire, std::string& host, std::string& path);

}  // namespace reprise::replay
