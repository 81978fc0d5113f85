#include "reprise/capture/packet_pipeline.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "capture/packet_builder.hpp"
#include "capture/recording_sink.hpp"

using namespace reprise;
using capture::DecodeStatus;
using capture::PacketPipeline;
using Events = std::vector<std::string>;
namespace lt = capture::link_type;
namespace flag = capture::tcp_flag;

namespace {

const std::string kRequest = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

test::Bytes ip_packet(const test::Address& src, const test::Address& dst,
                      const test::Bytes& segment) {
  return src.family == 4 ? test::ipv4(src, dst, test::kProtoTcp, segment)
                         : test::ipv6(src, dst, test::kProtoTcp, segment);
}

// The TCP segments of one HTTP exchange: handshake, request, response, FIN, FIN.
std::vector<test::Bytes> exchange_segments(const test::Address& c, const test::Address& s) {
  const auto req_end = static_cast<std::uint32_t>(101 + kRequest.size());
  const auto resp_end = static_cast<std::uint32_t>(501 + kResponse.size());
  const auto seg = [&](bool from_client, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                       const std::string& payload) {
    test::TcpHeader h;
    h.src_port = from_client ? 40000 : 80;
    h.dst_port = from_client ? 80 : 40000;
    h.seq = seq;
    h.ack = ack;
    h.flags = flags;
    return from_client ? test::tcp(c, s, h, test::bytes(payload))
                       : test::tcp(s, c, h, test::bytes(payload));
  };
  return {seg(true, 100, 0, flag::kSyn, ""),
          seg(false, 500, 101, flag::kSyn | flag::kAck, ""),
          seg(true, 101, 501, flag::kAck, ""),
          seg(true, 101, 501, flag::kAck | flag::kPsh, kRequest),
          seg(false, 501, req_end, flag::kAck | flag::kPsh, kResponse),
          seg(true, req_end, resp_end, flag::kAck | flag::kFin, ""),
          seg(false, resp_end, req_end + 1, flag::kAck | flag::kFin, "")};
}

bool from_client(std::size_t i) { return i != 1 && i != 4 && i != 6; }

test::Bytes wrap(std::uint32_t type, const test::Bytes& ip, bool v6) {
  const std::uint16_t ethertype = v6 ? test::kEtherIpv6 : test::kEtherIpv4;
  switch (type) {
    case lt::kEthernet: return test::ethernet(ethertype, ip, {test::kEtherVlan});
    case lt::kLinuxSll: return test::linux_sll(ethertype, ip);
    case lt::kLinuxSll2: return test::linux_sll2(ethertype, ip);
    case lt::kNull: return test::bsd_loopback(v6 ? 30 : 2, ip, false);
    case lt::kLoop: return test::bsd_loopback(v6 ? 24 : 2, ip, true);
    default: return ip;
  }
}

DecodeStatus feed(PacketPipeline& p, std::uint32_t type, const test::Bytes& frame,
                  std::int64_t ts) {
  return p.add(type, frame, static_cast<std::uint32_t>(frame.size()), ts);
}

const test::Address kC4 = test::ip("10.1.1.1");
const test::Address kS4 = test::ip("10.1.1.2");
const test::Address kC6 = test::ip("fd00::1");
const test::Address kS6 = test::ip("fd00::2");

}  // namespace

TEST_CASE("Every link type carries a connection through the pipeline", "[pipeline]") {
  const std::vector<std::uint32_t> types = {lt::kEthernet, lt::kLinuxSll, lt::kLinuxSll2,
                                            lt::kNull,     lt::kLoop,     lt::kRaw,
                                            lt::kRawAlt12, lt::kRawAlt14, lt::kIpv4,
                                            lt::kIpv6};
  for (const std::uint32_t type : types) {
    for (const bool v6 : {false, true}) {
      if ((type == lt::kIpv4 && v6) || (type == lt::kIpv6 && !v6)) continue;
      CAPTURE(type, v6);
      const auto& c = v6 ? kC6 : kC4;
      const auto& s = v6 ? kS6 : kS4;
      test::RecordingFactory f;
      PacketPipeline p(f);
      const auto segments = exchange_segments(c, s);
      for (std::size_t i = 0; i < segments.size(); ++i) {
        const auto ip = from_client(i) ? ip_packet(c, s, segments[i]) : ip_packet(s, c, segments[i]);
        CHECK(feed(p, type, wrap(type, ip, v6), static_cast<std::int64_t>(i + 1)) ==
              DecodeStatus::Tcp);
      }
      REQUIRE(f.sinks.size() == 1);
      const auto& conn = *f.sinks[0];
      CHECK(conn.events == Events{"C:" + kRequest + "@4", "S:" + kResponse + "@5", "C:fin@6",
                                  "S:fin@7", "close:Fin@7"});
      CHECK(conn.info.client.family == (v6 ? 6 : 4));
      CHECK(conn.info.client.port == 40000);
      const auto st = p.stats();
      CHECK(st.decode.packets == 7);
      CHECK(st.decode.tcp_segments == 7);
      CHECK(st.tcp.delivered_bytes == kRequest.size() + kResponse.size());
    }
  }
}

TEST_CASE("Fragmented TCP is reassembled and delivered", "[pipeline]") {
  for (const bool v6 : {false, true}) {
    CAPTURE(v6);
    const auto& c = v6 ? kC6 : kC4;
    const auto& s = v6 ? kS6 : kS4;
    test::RecordingFactory f;
    PacketPipeline p(f);
    const auto segments = exchange_segments(c, s);
    std::int64_t ts = 0;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (i == 3) {  // the request, in fragments of 16 bytes, last one first
        const auto pieces = v6 ? test::fragment_ipv6(c, s, test::kProtoTcp, segments[i], 16, 42)
                               : test::fragment_ipv4(ip_packet(c, s, segments[i]), 16);
        REQUIRE(pieces.size() == 3);
        for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
          CHECK(feed(p, lt::kRaw, *it, ++ts) == DecodeStatus::Fragment);
        }
        continue;
      }
      const auto ip = from_client(i) ? ip_packet(c, s, segments[i]) : ip_packet(s, c, segments[i]);
      feed(p, lt::kRaw, ip, ++ts);
    }
    REQUIRE(f.sinks.size() == 1);
    CHECK(f.sinks[0]->client_bytes == kRequest);
    CHECK(f.sinks[0]->events.front() == "C:" + kRequest + "@6");  // at the completing fragment
    const auto st = p.stats();
    CHECK(st.decode.ip_fragments == 3);
    CHECK(st.defrag.fragments == 3);
    CHECK(st.defrag.datagrams_reassembled == 1);
    CHECK(st.tcp.segments == 7);
  }
}

TEST_CASE("Fragments that cannot carry TCP are counted, not held", "[pipeline]") {
  test::RecordingFactory f;
  PacketPipeline p(f);
  const auto udp = test::ipv4(kC4, kS4, test::kProtoUdp, test::Bytes(40, 'u'), {.id = 3});
  for (const auto& piece : test::fragment_ipv4(udp, 24)) {
    CHECK(feed(p, lt::kRaw, piece, 1) == DecodeStatus::NotTcp);
  }
  const auto st = p.stats();
  CHECK(st.decode.not_tcp == 2);
  CHECK(st.decode.ip_fragments == 0);
  CHECK(st.defrag.fragments == 0);
}

TEST_CASE("A packet cut by snaplen leaves a gap of the exact size", "[pipeline]") {
  test::RecordingFactory f;
  PacketPipeline p(f);
  const auto segments = exchange_segments(kC4, kS4);
  for (std::size_t i = 0; i < 4; ++i) {
    auto frame = test::ethernet(test::kEtherIpv4, ip_packet(kC4, kS4, segments[i]));
    if (i == 1) frame = test::ethernet(test::kEtherIpv4, ip_packet(kS4, kC4, segments[i]));
    const auto wire = static_cast<std::uint32_t>(frame.size());
    if (i == 3) frame.resize(frame.size() - 5);
    CHECK(p.add(lt::kEthernet, frame, wire, static_cast<std::int64_t>(i + 1)) == DecodeStatus::Tcp);
  }
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->events ==
        Events{"C:" + kRequest.substr(0, kRequest.size() - 5) + "@4", "C:gap(5,snaplen)@4"});
  const auto st = p.stats();
  CHECK(st.decode.snaplen_truncated == 1);
  CHECK(st.decode.wire_bytes == st.decode.captured_bytes + 5);
  CHECK(st.tcp.truncated_segments == 1);
  CHECK(st.tcp.gap_bytes == 5);
}

TEST_CASE("Every packet is counted once by reason, every counter has one name", "[pipeline]") {
  test::RecordingFactory f;
  PacketPipeline p(f);
  const auto tcp = ip_packet(kC4, kS4, exchange_segments(kC4, kS4)[0]);
  feed(p, lt::kEthernet, test::ethernet(test::kEtherIpv4, tcp), 1);
  feed(p, lt::kEthernet, test::ethernet(test::kEtherArp, test::Bytes(28, 0)), 2);
  feed(p, lt::kRaw, test::ipv4(kC4, kS4, test::kProtoUdp, test::Bytes(8, 0)), 3);
  feed(p, lt::kRaw, test::Bytes(tcp.begin(), tcp.begin() + 30), 4);  // short, not cut: malformed
  CHECK(p.add(lt::kRaw, std::span(tcp).first(30), static_cast<std::uint32_t>(tcp.size()), 5) ==
        DecodeStatus::Truncated);
  feed(p, 9999, tcp, 6);
  const auto piece = test::fragment_ipv4(test::ipv4(kC4, kS4, test::kProtoTcp, test::Bytes(40, 1)),
                                         16)[0];
  feed(p, lt::kRaw, piece, 7);
  p.finish(8);

  const auto st = p.stats();
  CHECK(st.decode.packets == 7);
  CHECK(st.decode.tcp_segments == 1);
  CHECK(st.decode.not_ip == 1);
  CHECK(st.decode.not_tcp == 1);
  CHECK(st.decode.malformed == 1);
  CHECK(st.decode.truncated == 1);
  CHECK(st.decode.unsupported_link_type == 1);
  CHECK(st.decode.ip_fragments == 1);
  CHECK(st.defrag.datagrams_unfinished == 1);
  CHECK(st.tcp.flows_closed_end_of_input == 1);

  std::set<std::string> names;
  std::size_t visited = 0;
  std::uint64_t packets = 0;
  st.for_each([&](std::string_view name, std::uint64_t value) {
    ++visited;
    names.emplace(name);
    if (name == "decode.packets") packets = value;
    CHECK((name.starts_with("decode.") || name.starts_with("defrag.") ||
           name.starts_with("tcp.")));
  });
  CHECK(names.size() == visited);
  CHECK(packets == 7);
  CHECK(names.count("tcp.gap_bytes") == 1);
  CHECK(names.count("defrag.conflicting_overlaps") == 1);
}

TEST_CASE("Any packet's time expires idle connections", "[pipeline]") {
  test::RecordingFactory f;
  PacketPipeline::Options o;
  o.tcp.idle_timeout_ns = 1000;
  PacketPipeline p(f, o);
  const auto syn = ip_packet(kC4, kS4, exchange_segments(kC4, kS4)[0]);
  feed(p, lt::kRaw, syn, 10);
  feed(p, lt::kRaw, test::ipv4(kC4, kS4, test::kProtoUdp, test::Bytes(8, 0)), 1010);
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->events == Events{"close:IdleExpired@10"});
  CHECK(p.stats().tcp.flows_closed_idle == 1);
}

TEST_CASE("Pipeline options are validated", "[pipeline]") {
  PacketPipeline::Options o;
  CHECK(o.validate().ok());
  o.defrag.timeout_ns = 0;
  CHECK_FALSE(o.validate().ok());
  o = {};
  o.tcp.max_out_of_order_bytes = 0;
  CHECK_FALSE(o.validate().ok());
}
