#pragma once
// The fuzz targets: each takes any byte string, feeds it to one parser of untrusted input and
// checks that parser's contracts (FUZZ_CHECK). libfuzzer_main.cpp makes each a libFuzzer
// executable (REPRISE_FUZZ builds, tests/fuzz/run.sh); corpus_test.cpp replays the saved inputs
// of each in the normal test suite. Every target returns 0.

#include <cstddef>
#include <cstdint>
#include <span>

namespace reprise::fuzz {

using Target = int (*)(const std::uint8_t* data, std::size_t size);

// One connection's stream events (data, gaps, half-closes, close) → ExchangeAssembler.
int http_stream(const std::uint8_t* data, std::size_t size);
// A pcap or pcapng file → PcapSource → PacketPipeline → ExchangeAssembler.
int pcap_file(const std::uint8_t* data, std::size_t size);
// A trace or run file → Reader (stopping and resyncing) → every record as JSON.
int trace_file(const std::uint8_t* data, std::size_t size);
// Response bytes in pieces → replay's ResponseReader, several responses per connection.
int response(const std::uint8_t* data, std::size_t size);
// A sender's bytes → the recording proxy's MessageRelay, several messages per connection.
int message_relay(const std::uint8_t* data, std::size_t size);
// Set-Cookie values and Cookie headers → CookieJar.
int cookie_jar(const std::uint8_t* data, std::size_t size);
// Two bodies → compare's JSON diff.
int json_diff(const std::uint8_t* data, std::size_t size);
// Flag values and request paths → every text parser of the CLI and the route namer.
int flag_text(const std::uint8_t* data, std::size_t size);

struct NamedTarget {
  const char* name;  // also the folder of its saved inputs: tests/fuzz/corpus/<name>/
  Target run;
};
inline constexpr NamedTarget kTargets[] = {
    {"http_stream", http_stream}, {"pcap_file", pcap_file},   {"trace_file", trace_file},
    {"response", response},       {"message_relay", message_relay}, {"cookie_jar", cookie_jar},
    {"json_diff", json_diff},     {"flag_text", flag_text},
};

}  // namespace reprise::fuzz
