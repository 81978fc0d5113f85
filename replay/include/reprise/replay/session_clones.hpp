#pragma once
// SessionClones: what each replayed session clone has learned — its cookie jar and the values
// its replayed responses carried — and the bytes each of its requests is sent as. Lives on the
// engine's network thread; sans-I/O (responses and the wall-clock time passed in).
//
// A request is built for its clone from the recorded bytes (the recorded wire is shared and
// reused as is when nothing changes), in this order:
//   1. learned values: every Need (correlation_tracker.hpp) whose producer this clone has
//      received replaces each occurrence of the recorded value, in the head and in the body
//      separately (percent-encoded where the recording had it so);
//   2. "{clone}" in the head (from --set-header / --rewrite-path) becomes the clone number;
//   3. --clone-rewrite fields get the clone's value;
//   4. the Cookie header: the clone's jar replaces the values of cookies the target set
//      (CookieJar::rewrite); a header left empty is dropped;
//   5. Content-Length is rebuilt when the body changed size.
// A Need whose producer is still in flight for this clone makes the request wait (prepare()
// says Wait); the engine asks again when the producer's answer arrives or gives up after the
// correlation timeout and the outcome is flagged TimedOut. A producer that failed, or whose
// replayed response lacks the value, is a miss, flagged Missed. Either way the request carries
// the clone's latest value of that kind (same rule and place) from an earlier answer when it
// has one (its login's token when its refresh failed), else the recorded value.
//
// Limits: max_clones clone states and max_clone_bytes of them together (the one used longest
// ago is forgotten first; counted), each with a jar of CookieJarLimits and at most
// max_values_per_session learned values of at most max_value_bytes each.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reprise/replay/cookie_jar.hpp"
#include "reprise/replay/correlation_settings.hpp"
#include "reprise/replay/correlation_tracker.hpp"
#include "reprise/replay/schedule.hpp"

namespace reprise::replay {

struct EngineOutcome;  // engine.hpp

// Outcome flags (format: Outcome.correlation).
enum CorrelationFlag : std::uint8_t {
  kSubstituted = 1,  // at least one learned value was replaced with the clone's
  kWaited = 2,       // it waited for a value
  kTimedOut = 4,     // ... and gave up: sent with a recorded value
  kMissed = 8,       // a value its clone never received (producer failed or lacked it)
  kJarCookies = 16,  // the Cookie header carries values from the clone's jar
};

// Per rule, readable from any thread.
struct RuleCounters {
  std::atomic<std::uint64_t> learned{0};      // values found in replayed responses
  std::atomic<std::uint64_t> substituted{0};  // occurrences replaced in requests
  std::atomic<std::uint64_t> waits{0};        // requests that waited for one of its values
  std::atomic<std::uint64_t> timeouts{0};     // ... and gave up
  std::atomic<std::uint64_t> misses{0};       // values a clone never received
  std::atomic<std::uint64_t> rejected{0};     // found with CR, LF or NUL, or too long: not used
};

// The counters at one moment, for the summary and the run file's footer.
struct CorrelationTotals {
  struct Rule {
    std::string rule;
    bool automatic = false;
    std::uint64_t learned = 0, substituted = 0, waits = 0, timeouts = 0, misses = 0, rejected = 0;
  };
  std::vector<Rule> rules;
  std::uint64_t cookies_set = 0, cookies_rejected = 0, cookie_headers_rewritten = 0,
                clones_forgotten = 0, values_forgotten = 0;
};

struct JarCounters {
  std::atomic<std::uint64_t> cookies_set{0};        // Set-Cookie values stored (or deleting)
  std::atomic<std::uint64_t> cookies_rejected{0};
  std::atomic<std::uint64_t> headers_rewritten{0};  // Cookie headers changed by a jar
  std::atomic<std::uint64_t> clones_forgotten{0};   // clone states dropped at max_clones / bytes
  std::atomic<std::uint64_t> values_forgotten{0};   // learned values dropped at max_values_per_session
};

class SessionClones {
 public:
  explicit SessionClones(const CorrelationSettings& settings);

  // A producer (RequestCorrelation::producer) of clone `clone_key` was handed to the engine:
  // requests needing its values wait for it.
  void expect(std::uint64_t clone_key, std::uint64_t exchange);

  struct Prepared {
    bool wait = false;
    std::uint64_t producer = 0;                // wait: the exchange waited for
    std::shared_ptr<const std::string> wire;   // ready: the bytes to send
    std::uint8_t flags = 0;                    // CorrelationFlag
  };
  // The request as clone `r` sends it, or Wait. `give_up`: the wait timed out; use recorded
  // values for whatever has not arrived. `unix_now_ns` is wall-clock time (cookie expiry).
  Prepared prepare(const ScheduledRequest& r, bool give_up, std::int64_t unix_now_ns);

  // The final outcome of a request (answered, failed, shed or aborted): Set-Cookie of an
  // answer into the clone's jar, its values into the clone's table when it is a producer; a
  // producer that got no answer is no longer waited for.
  void received(const EngineOutcome& o, std::int64_t unix_now_ns);

  // Any thread.
  CorrelationTotals totals() const;
  std::size_t clones() const { return clones_.size(); }

 private:
  struct Learned {
    std::uint64_t producer;
    std::uint32_t rule;
    std::string place, value;
  };
  struct Clone {
    CookieJar jar;
    std::vector<Learned> values;            // oldest first
    std::vector<std::uint64_t> in_flight;   // producers expected, not yet answered
    std::list<std::uint64_t>::iterator lru;
    std::size_t bytes = 0;                  // as last counted by account()
  };
  Clone* find(std::uint64_t key);
  Clone& get(std::uint64_t key);
  void forget_oldest();
  // The values producer answer `o` carries, into the clone's table.
  void learn(Clone& clone, const EngineOutcome& o);
  // Counts `c`'s bytes again after it changed; over max_clone_bytes, the clones used longest ago
  // (never `c`: it is the one in use) are forgotten.
  void account(Clone& c);
  // `substitutions` are applied in their order: longest recorded value first.
  std::string build(const ScheduledRequest& r, Clone* clone,
                    const std::vector<std::pair<const Need*, const std::string*>>& substitutions,
                    std::int64_t unix_now_ns, std::uint8_t& flags);

  const CorrelationSettings& settings_;
  std::unique_ptr<RuleCounters[]> rules_;
  JarCounters jar_;
  std::unordered_map<std::uint64_t, Clone> clones_;
  std::list<std::uint64_t> lru_;
  std::size_t bytes_ = 0;  // sum of the clones' bytes
};

}  // namespace reprise::replay
