// A floor for `reprise capture --pcap` with the parser it must use: the bare libpcap read loop
// plus Boost.Beast's basic_parser over every TCP payload, with callbacks that do nothing. No TCP
// reassembly, no exchange, no record: each direction of each IPv4 connection feeds its payloads,
// in capture order, to one parser (requests or responses, by the first bytes), which is
// re-created after each message. That is only right for a capture without loss or reordering,
// such as bench/capture.sh's loopback pcap; it is a measure, not a capture.
//
//   beast_parse_floor FILE      prints "messages parse_errors seconds"
//
// Ethernet (tcpdump -i lo) and Linux cooked v1 captures; other packets are skipped.

#include <pcap/pcap.h>

#include <algorithm>
#include <boost/beast/http/basic_parser.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <unordered_map>

namespace http = boost::beast::http;
using boost::beast::string_view;
using boost::system::error_code;

namespace {

// Beast's parser with callbacks that keep nothing (a checksum, so nothing is optimised away).
template <bool IsRequest>
class NullParser final : public http::basic_parser<IsRequest> {
 public:
  std::uint64_t sum = 0;

 private:
  void on_request_impl(http::verb, string_view, string_view target, int, error_code&) override {
    sum += target.size();
  }
  void on_response_impl(int status, string_view, int, error_code&) override {
    sum += static_cast<std::uint64_t>(status);
  }
  void on_field_impl(http::field, string_view name, string_view value, error_code&) override {
    sum += name.size() + value.size();
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}
};

struct Direction {
  std::optional<NullParser<true>> request;
  std::optional<NullParser<false>> response;
  bool is_response = false;
  bool known = false;
  bool failed = false;  // a parse error: the rest of this direction is skipped
};

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// Feeds `n` payload bytes to the direction's parser, starting a new one per message.
template <typename Parser>
void feed(std::optional<Parser>& parser, const std::uint8_t* data, std::size_t n,
          std::uint64_t& messages, std::uint64_t& sum, bool& failed) {
  while (n > 0 && !failed) {
    if (!parser || parser->is_done()) {
      if (parser) sum += parser->sum;
      parser.emplace();
      parser->eager(true);
      parser->body_limit(std::uint64_t{1} << 40);  // the default 8 MiB would end big bodies
      ++messages;
    }
    error_code ec;
    const std::size_t used = parser->put(boost::asio::const_buffer(data, n), ec);
    if (ec == http::error::need_more) return;  // a head cut by the packet end: not in this floor
    if (ec) {
      failed = true;
      return;
    }
    data += used;
    n -= used;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: beast_parse_floor FILE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(argv[1], err);
  if (p == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    return 2;
  }
  const int link = pcap_datalink(p);
  const std::size_t link_header = link == DLT_EN10MB ? 14 : link == DLT_LINUX_SLL ? 16 : 0;
  if (link_header == 0) {
    std::fprintf(stderr, "beast_parse_floor: %s: link type %d: only Ethernet and Linux cooked\n",
                 argv[1], link);
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::unordered_map<std::uint64_t, Direction> directions;
  std::uint64_t messages = 0, sum = 0, errors = 0;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    if (h->caplen < link_header + 40) continue;
    const std::uint8_t* ip = d + link_header;
    if ((ip[0] >> 4) != 4 || ip[9] != 6) continue;
    const std::size_t ihl = std::size_t{ip[0] & 15u} * 4;
    const std::size_t total = be16(ip + 2);
    const std::uint8_t* tcp = ip + ihl;
    const std::size_t thl = std::size_t{tcp[12]} / 16 * 4;
    if (total > h->caplen - link_header || ihl + thl >= total) continue;
    const std::uint64_t key = std::uint64_t{be16(tcp)} << 48 | std::uint64_t{be16(tcp + 2)} << 32 |
                              (std::uint64_t{ip[12]} << 24 | std::uint64_t{ip[13]} << 16 |
                               std::uint64_t{ip[14]} << 8 | ip[15]);
    Direction& dir = directions[key];
    const std::uint8_t* payload = tcp + thl;
    const std::size_t n = total - ihl - thl;
    if (!dir.known) {
      dir.is_response = n >= 5 && std::equal(payload, payload + 5, "HTTP/");
      dir.known = true;
    }
    const bool failed_before = dir.failed;
    if (dir.is_response) feed(dir.response, payload, n, messages, sum, dir.failed);
    else feed(dir.request, payload, n, messages, sum, dir.failed);
    if (dir.failed && !failed_before) ++errors;
  }
  pcap_close(p);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%llu %llu %.3f %llu\n", static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(errors), seconds,
              static_cast<unsigned long long>(sum & 1));
  return 0;
}
