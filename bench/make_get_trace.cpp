// Writes a trace of N small GET exchanges for bench/replay.sh: the same few hundred bytes per
// request, so the replay figures measure reprise, not the trace.
//
//   reprise_make_get_trace FILE N
//
// Exchange i: GET /item/<i % 1000> with Host and User-Agent, answered 200 with a 2-byte body;
// ten exchanges per session and connection (session_id = connection_id = i / 10 + 1), one
// millisecond apart (request_first_ns = i ms). Prints the number of records written.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "reprise/format/writer.hpp"

using namespace reprise;
namespace fb = format::fb;

namespace {

constexpr std::int64_t kMs = 1'000'000;

std::unique_ptr<fb::HeaderT> header(const char* name, const char* value) {
  auto h = std::make_unique<fb::HeaderT>();
  h->name = name;
  h->value = value;
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: reprise_make_get_trace FILE N\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::uint64_t n = std::strtoull(argv[2], nullptr, 10);

  fb::FileHeaderT file_header;
  file_header.kind = fb::FileKind::Trace;
  file_header.source = "bench";
  auto writer = format::Writer::open(path, std::move(file_header));
  if (!writer) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), writer.error().message().c_str());
    return 1;
  }
  // One exchange reused: only the fields that change per record are rewritten.
  fb::ExchangeT x;
  x.request = std::make_unique<fb::RequestT>();
  x.request->method = "GET";
  x.request->headers.push_back(header("Host", "shop.example"));
  x.request->headers.push_back(header("User-Agent", "reprise-bench/1"));
  x.response = std::make_unique<fb::ResponseT>();
  x.response->status = 200;
  x.response->reason = "OK";
  x.response->headers.push_back(header("Content-Length", "2"));
  x.response->body = {'o', 'k'};
  x.response->body_size = 2;
  for (std::uint64_t i = 0; i < n; ++i) {
    x.id = i + 1;
    x.session_id = i / 10 + 1;
    x.connection_id = i / 10 + 1;  // 0 means none
    x.connection_index = static_cast<std::uint32_t>(i % 10);
    x.request_first_ns = static_cast<std::int64_t>(i) * kMs;
    x.request_last_ns = x.request_first_ns;
    x.response_first_ns = x.request_first_ns + kMs / 10;
    x.response_last_ns = x.response_first_ns;
    x.request->target = "/item/" + std::to_string(i % 1000);
    if (auto st = (*writer)->append(x); !st) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), st.error().message().c_str());
      return 1;
    }
  }
  if (auto st = (*writer)->close(); !st) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), st.error().message().c_str());
    return 1;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(n));
  return 0;
}
