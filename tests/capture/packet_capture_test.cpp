// PacketCapture's three threads (packets, http, record) on a pcap written here: every exchange
// reaches the trace, and a writer that fails mid-run stops all three with its error.
#include "reprise/capture/packet_capture.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "packet_builder.hpp"
#include "reprise/capture/error.hpp"
#include "reprise/format/error.hpp"
#include "support/temp_dir.hpp"

namespace reprise::capture {
namespace {

// A pcap of `connections` keep-alive connections, interleaved, each with `per_connection`
// exchanges of a request and a response with a `body_size`-byte body, then closed with FINs.
std::string write_pcap(const std::string& path, int connections, int per_connection,
                       std::size_t body_size) {
  std::vector<test::PcapRecord> records;
  std::int64_t ts_ns = 1'700'000'000'000'000'000;
  const auto client = test::ip("10.0.0.1");
  const auto server = test::ip("10.0.0.2");
  constexpr std::uint8_t SYN = tcp_flag::kSyn, ACK = tcp_flag::kAck, FIN = tcp_flag::kFin;
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_size) +
                               "\r\n\r\n" + std::string(body_size, 'b');
  // Next sequence number of each side of each connection.
  std::vector<std::uint32_t> client_seq(connections, 1000), server_seq(connections, 5000);
  auto send = [&](int c, bool from_client, std::uint8_t flags, std::string_view payload) {
    const auto port = static_cast<std::uint16_t>(40000 + c);
    std::uint32_t& seq = from_client ? client_seq[c] : server_seq[c];
    const std::uint32_t ack = from_client ? server_seq[c] : client_seq[c];
    ts_ns += 10'000;
    records.push_back({ts_ns, test::eth_tcp(from_client ? client : server, from_client ? server : client,
                                            {.src_port = from_client ? port : std::uint16_t{80},
                                             .dst_port = from_client ? std::uint16_t{80} : port,
                                             .seq = seq,
                                             .ack = ack,
                                             .flags = flags},
                                            payload)});
    seq += static_cast<std::uint32_t>(payload.size()) + ((flags & (SYN | FIN)) ? 1 : 0);
  };
  for (int c = 0; c < connections; ++c) {
    send(c, true, SYN, "");
    send(c, false, SYN | ACK, "");
    send(c, true, ACK, "");
  }
  for (int i = 0; i < per_connection; ++i) {
    for (int c = 0; c < connections; ++c) {
      send(c, true, ACK, "GET /item/" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n");
      send(c, false, ACK, response);
    }
  }
  for (int c = 0; c < connections; ++c) {
    send(c, true, FIN | ACK, "");
    send(c, false, FIN | ACK, "");
    send(c, true, ACK, "");
  }
  test::write_file(path, test::pcap_bytes({}, records));
  return path;
}

// Takes the first `limit` bytes, then fails as a full disk would.
class LimitedSink final : public format::ByteSink {
 public:
  explicit LimitedSink(std::uint64_t limit) : limit_(limit) {}
  Status write(std::span<const std::uint8_t> bytes) override {
    if (position_ + bytes.size() > limit_)
      return format::fail(format::errc::output_error, name_, position_, "no space left (test)");
    position_ += bytes.size();
    return {};
  }
  std::uint64_t position() const override { return position_; }
  const std::string& name() const override { return name_; }

 private:
  std::uint64_t limit_;
  std::uint64_t position_ = 0;
  std::string name_ = "limited";
};

Result<CaptureSummary> capture(const std::string& pcap, std::uint64_t sink_limit) {
  format::WriterOptions wo;
  wo.block_bytes = 16 * 1024;  // many blocks, so a failing sink fails mid-run
  format::fb::FileHeaderT header;
  header.kind = format::fb::FileKind::Trace;
  auto writer = format::Writer::open(std::make_unique<LimitedSink>(sink_limit), header, wo);
  REQUIRE(writer);
  CaptureOptions options;
  options.files = {pcap};
  auto cap = PacketCapture::open(options, **writer);
  REQUIRE(cap);
  auto summary = (*cap)->run();
  if (summary) {
    if (Status st = (*writer)->close(); !st) return st.take_error();
  }
  return summary;
}

}  // namespace

TEST_CASE("packet capture: every exchange of a pcap crosses the three threads into the trace",
          "[capture][packet_capture]") {
  test::TempDir dir;
  // 8 connections x 1500 exchanges with 2 KiB bodies: about 24 MiB of stream bytes, many
  // hand-offs and blocks.
  const std::string pcap = write_pcap(dir.file("many.pcap"), 8, 1500, 2048);
  auto summary = capture(pcap, ~std::uint64_t{0});
  REQUIRE(summary);
  CHECK(summary->http.exchanges == 12000);
  CHECK(summary->recorder.written == 12000);
  CHECK(summary->packets.tcp.flows_closed_fin == 8);
  CHECK(summary->stopped_by == "end of input");
}

TEST_CASE("packet capture: a writer that fails mid-run stops every thread with its error",
          "[capture][packet_capture]") {
  test::TempDir dir;
  const std::string pcap = write_pcap(dir.file("many.pcap"), 8, 1500, 2048);
  auto summary = capture(pcap, 64 * 1024);
  REQUIRE_FALSE(summary);
  CHECK(summary.error().code == make_error_code(errc::output_error));
  CHECK_THAT(summary.error().message(), Catch::Contains("no space left (test)"));
}

}  // namespace reprise::capture
