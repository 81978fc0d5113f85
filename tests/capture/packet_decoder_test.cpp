#include "reprise/capture/packet_decoder.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "capture/packet_builder.hpp"
#include "reprise/capture/error.hpp"

using namespace reprise;
using capture::DecodedPacket;
using capture::DecodeStatus;
using capture::decode_packet;
namespace lt = capture::link_type;
namespace flag = capture::tcp_flag;

namespace {

const test::Address kA = test::ip("192.0.2.1");
const test::Address kB = test::ip("198.51.100.7");
const test::Address k6A = test::ip("2001:db8::1");
const test::Address k6B = test::ip("2001:db8:ffff::2");

test::Bytes segment(const test::Address& src, const test::Address& dst,
                    std::string_view payload = "hello") {
  return test::tcp(src, dst,
                   {.src_port = 40000, .dst_port = 80, .seq = 1000, .ack = 2000,
                    .flags = flag::kAck | flag::kPsh},
                   test::bytes(payload));
}

test::Bytes v4_packet(std::string_view payload = "hello") {
  return test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB, payload));
}

test::Bytes v6_packet(std::string_view payload = "hello") {
  return test::ipv6(k6A, k6B, test::kProtoTcp, segment(k6A, k6B, payload));
}

DecodedPacket decode(std::uint32_t link_type, const test::Bytes& frame) {
  return decode_packet(link_type, frame, static_cast<std::uint32_t>(frame.size()), 42);
}

std::string text(std::span<const std::uint8_t> b) { return std::string(b.begin(), b.end()); }

void check_v4_segment(const DecodedPacket& d, std::string_view payload = "hello") {
  REQUIRE(d.status == DecodeStatus::Tcp);
  CHECK(d.segment.src == test::endpoint("192.0.2.1", 40000));
  CHECK(d.segment.dst == test::endpoint("198.51.100.7", 80));
  CHECK(d.segment.src.family == 4);
  CHECK(d.segment.seq == 1000);
  CHECK(d.segment.ack == 2000);
  CHECK(d.segment.flags == (flag::kAck | flag::kPsh));
  CHECK(text(d.segment.payload) == payload);
  CHECK(d.segment.payload_length == payload.size());
  CHECK(d.segment.ts_ns == 42);
  CHECK_FALSE(d.segment.snaplen_cut);
  CHECK_FALSE(d.snaplen_cut);
}

void check_v6_segment(const DecodedPacket& d, std::string_view payload = "hello") {
  REQUIRE(d.status == DecodeStatus::Tcp);
  CHECK(d.segment.src == test::endpoint("2001:db8::1", 40000));
  CHECK(d.segment.dst == test::endpoint("2001:db8:ffff::2", 80));
  CHECK(d.segment.src.family == 6);
  CHECK(text(d.segment.payload) == payload);
}

}  // namespace

TEST_CASE("Ethernet carries IPv4 and IPv6 TCP segments", "[decoder]") {
  check_v4_segment(decode(lt::kEthernet, test::ethernet(test::kEtherIpv4, v4_packet())));
  check_v6_segment(decode(lt::kEthernet, test::ethernet(test::kEtherIpv6, v6_packet())));
}

TEST_CASE("VLAN tags are skipped: 802.1Q, QinQ 0x88a8 and 0x9100", "[decoder]") {
  const std::vector<std::vector<std::uint16_t>> stacks = {
      {test::kEtherVlan},
      {test::kEtherQinQ, test::kEtherVlan},
      {test::kEtherQinQOld, test::kEtherVlan},
      {test::kEtherQinQOld, test::kEtherQinQ, test::kEtherVlan}};
  for (const auto& tags : stacks) {
    CAPTURE(tags.size());
    check_v4_segment(decode(lt::kEthernet, test::ethernet(test::kEtherIpv4, v4_packet(), tags)));
    check_v6_segment(decode(lt::kEthernet, test::ethernet(test::kEtherIpv6, v6_packet(), tags)));
  }
  // A frame cut inside the tag stack is truncated, not misread.
  auto frame = test::ethernet(test::kEtherIpv4, v4_packet(), {test::kEtherVlan, test::kEtherVlan});
  const test::Bytes cut(frame.begin(), frame.begin() + 16);
  CHECK(decode_packet(lt::kEthernet, cut, static_cast<std::uint32_t>(frame.size()), 0).status ==
        DecodeStatus::Truncated);
}

TEST_CASE("Linux cooked capture v1 and v2", "[decoder]") {
  check_v4_segment(decode(lt::kLinuxSll, test::linux_sll(test::kEtherIpv4, v4_packet())));
  check_v6_segment(decode(lt::kLinuxSll, test::linux_sll(test::kEtherIpv6, v6_packet())));
  check_v4_segment(decode(lt::kLinuxSll2, test::linux_sll2(test::kEtherIpv4, v4_packet())));
  check_v6_segment(decode(lt::kLinuxSll2, test::linux_sll2(test::kEtherIpv6, v6_packet())));
  CHECK(decode(lt::kLinuxSll2, test::linux_sll2(test::kEtherArp, test::Bytes(28, 0))).status ==
        DecodeStatus::NotIp);
}

TEST_CASE("BSD null loopback in either byte order, and OpenBSD loop", "[decoder]") {
  for (const bool big : {false, true}) {
    CAPTURE(big);
    check_v4_segment(decode(lt::kNull, test::bsd_loopback(2, v4_packet(), big)));
    for (const std::uint32_t af6 : {24u, 28u, 30u, 10u}) {
      CAPTURE(af6);
      check_v6_segment(decode(lt::kNull, test::bsd_loopback(af6, v6_packet(), big)));
    }
  }
  check_v4_segment(decode(lt::kLoop, test::bsd_loopback(2, v4_packet(), true)));
  check_v6_segment(decode(lt::kLoop, test::bsd_loopback(24, v6_packet(), true)));
  // 23 is AF_INET6 on Windows but AF_IPX on BSD: only an IPv6 header makes it IPv6.
  check_v6_segment(decode(lt::kNull, test::bsd_loopback(23, v6_packet(), false)));
  CHECK(decode(lt::kNull, test::bsd_loopback(23, test::Bytes(30, 0xFF), false)).status ==
        DecodeStatus::NotIp);
  CHECK(decode(lt::kNull, test::bsd_loopback(7, v4_packet(), false)).status ==
        DecodeStatus::NotIp);
}

TEST_CASE("Raw IP link types: 101, 12, 14, 228, 229", "[decoder]") {
  for (const std::uint32_t type : {lt::kRaw, lt::kRawAlt12, lt::kRawAlt14}) {
    CAPTURE(type);
    check_v4_segment(decode(type, v4_packet()));
    check_v6_segment(decode(type, v6_packet()));
  }
  check_v4_segment(decode(lt::kIpv4, v4_packet()));
  check_v6_segment(decode(lt::kIpv6, v6_packet()));
  CHECK(decode(lt::kRaw, test::Bytes{0x50, 0, 0, 0}).status == DecodeStatus::NotIp);
  // The link type promised IPv6; an IPv4 header there is malformed.
  CHECK(decode(lt::kIpv6, v4_packet()).status == DecodeStatus::Malformed);
}

TEST_CASE("An unsupported link type is reported, and refused by check_link_type", "[decoder]") {
  CHECK(decode(147, v4_packet()).status == DecodeStatus::UnsupportedLinkType);
  CHECK_FALSE(capture::is_supported_link_type(147));
  const Status s = capture::check_link_type(147, "in.pcap");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == capture::errc::unsupported_link_type);
  CHECK(s.error().message().find("147") != std::string::npos);
  CHECK(capture::check_link_type(lt::kLinuxSll2, "in.pcap").ok());
}

TEST_CASE("IPv4 options are skipped", "[decoder]") {
  test::Ipv4Options o;
  o.options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01};  // router alert, NOPs (padded to 8)
  const auto packet = test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB), o);
  CHECK((packet[0] & 0x0F) == 7);
  check_v4_segment(decode(lt::kRaw, packet));
}

TEST_CASE("IPv6 extension headers are walked to TCP", "[decoder]") {
  const std::vector<test::Ipv6Extension> chain = {
      {0, test::Bytes(4, 0x01)},     // hop-by-hop with PadN
      {43, test::Bytes(14, 0)},      // routing, 16 bytes
      {60, test::Bytes(6, 0x01)},    // destination options
      {51, test::Bytes(14, 0xAB)},   // AH: SPI, sequence, ICV
  };
  const auto packet = test::ipv6(k6A, k6B, test::kProtoTcp, segment(k6A, k6B), chain);
  check_v6_segment(decode(lt::kRaw, packet));

  SECTION("an atomic fragment (offset 0, no more) is skipped") {
    const auto atomic = test::ipv6(k6A, k6B, test::kProtoTcp, segment(k6A, k6B),
                                   {test::ipv6_fragment_header(0, false, 7)});
    check_v6_segment(decode(lt::kRaw, atomic));
  }
  SECTION("ESP and no-next-header end the walk as NotTcp") {
    CHECK(decode(lt::kRaw, test::ipv6(k6A, k6B, 50, test::Bytes(40, 1))).status ==
          DecodeStatus::NotTcp);
    CHECK(decode(lt::kRaw, test::ipv6(k6A, k6B, 59, {}, {{60, {}}})).status ==
          DecodeStatus::NotTcp);
  }
  SECTION("an extension header longer than the packet is malformed") {
    auto bad = packet;
    bad[41] = 200;  // hop-by-hop length: 1608 bytes
    CHECK(decode(lt::kRaw, bad).status == DecodeStatus::Malformed);
  }
}

TEST_CASE("Not IP and not TCP are told apart", "[decoder]") {
  CHECK(decode(lt::kEthernet, test::ethernet(test::kEtherArp, test::Bytes(28, 0))).status ==
        DecodeStatus::NotIp);
  CHECK(decode(lt::kEthernet, test::ethernet(0x0026, test::Bytes(40, 0))).status ==
        DecodeStatus::NotIp);  // 802.3 length field
  CHECK(decode(lt::kRaw, test::ipv4(kA, kB, test::kProtoUdp, test::Bytes(12, 0))).status ==
        DecodeStatus::NotTcp);
  CHECK(decode(lt::kRaw, test::ipv6(k6A, k6B, 58, test::Bytes(8, 0))).status ==
        DecodeStatus::NotTcp);
}

TEST_CASE("IP fragments are handed out with offset, id and protocol", "[decoder]") {
  const auto whole = test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB, std::string(40, 'x')),
                                {.id = 0x1234});
  const auto pieces = test::fragment_ipv4(whole, 32);
  REQUIRE(pieces.size() == 2);
  const auto first = decode(lt::kRaw, pieces[0]);
  REQUIRE(first.status == DecodeStatus::Fragment);
  CHECK(first.fragment.version == 4);
  CHECK(first.fragment.id == 0x1234);
  CHECK(first.fragment.protocol == test::kProtoTcp);
  CHECK(first.fragment.offset == 0);
  CHECK(first.fragment.more);
  CHECK(first.fragment.length == 32);
  CHECK(first.fragment.data.size() == 32);
  CHECK(first.fragment.src == kA.bytes);
  const auto second = decode(lt::kRaw, pieces[1]);
  REQUIRE(second.status == DecodeStatus::Fragment);
  CHECK(second.fragment.offset == 32);
  CHECK_FALSE(second.fragment.more);
  CHECK(second.fragment.length == 20 + 40 - 32);

  const auto v6 = test::fragment_ipv6(k6A, k6B, test::kProtoTcp, segment(k6A, k6B), 16, 0xABCDEF01);
  const auto f6 = decode(lt::kRaw, v6[1]);
  REQUIRE(f6.status == DecodeStatus::Fragment);
  CHECK(f6.fragment.version == 6);
  CHECK(f6.fragment.id == 0xABCDEF01);
  CHECK(f6.fragment.offset == 16);
  CHECK(f6.fragment.protocol == test::kProtoTcp);
}

TEST_CASE("Ethernet padding beyond the IP length is not payload", "[decoder]") {
  auto frame = test::ethernet(test::kEtherIpv4, test::ipv4(kA, kB, test::kProtoTcp,
                                                           segment(kA, kB, "")));
  frame.resize(60, 0);  // minimum frame size
  const auto d = decode(lt::kEthernet, frame);
  REQUIRE(d.status == DecodeStatus::Tcp);
  CHECK(d.segment.payload.empty());
  CHECK(d.segment.payload_length == 0);
}

TEST_CASE("A payload cut by snaplen still decodes, with its wire length", "[decoder]") {
  const auto frame = test::ethernet(test::kEtherIpv4, v4_packet("0123456789"));
  const test::Bytes cut(frame.begin(), frame.end() - 4);
  const auto d = decode_packet(lt::kEthernet, cut, static_cast<std::uint32_t>(frame.size()), 7);
  REQUIRE(d.status == DecodeStatus::Tcp);
  CHECK(text(d.segment.payload) == "012345");
  CHECK(d.segment.payload_length == 10);
  CHECK(d.segment.payload_cut());
  CHECK(d.segment.snaplen_cut);
  CHECK(d.snaplen_cut);
}

TEST_CASE("Every cut of a frame decodes inside its buffer", "[decoder]") {
  // IPv6 with extension headers, so every layer's bounds are crossed. Each prefix sits in a
  // buffer of exactly its size, so AddressSanitizer catches any read past the captured bytes.
  const auto frame = test::ethernet(
      test::kEtherIpv6,
      test::ipv6(k6A, k6B, test::kProtoTcp, segment(k6A, k6B, "payload"),
                 {{0, test::Bytes(4, 1)}, {60, test::Bytes(6, 1)}}),
      {test::kEtherVlan});
  const std::size_t headers = 18 + 40 + 8 + 8 + 20;
  for (std::size_t n = 0; n <= frame.size(); ++n) {
    CAPTURE(n);
    const test::Bytes prefix(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
    const auto d = decode_packet(lt::kEthernet, prefix, static_cast<std::uint32_t>(frame.size()), 0);
    if (n < headers) {
      CHECK(d.status == DecodeStatus::Truncated);
    } else {
      REQUIRE(d.status == DecodeStatus::Tcp);
      CHECK(d.segment.payload.size() == n - headers);
      CHECK(d.segment.payload_length == 7);
      CHECK(d.snaplen_cut == (n < frame.size()));
    }
  }
}

TEST_CASE("Headers that contradict themselves are malformed", "[decoder]") {
  SECTION("IPv4 header length below 20") {
    auto p = v4_packet();
    p[0] = 0x44;
    CHECK(decode(lt::kRaw, p).status == DecodeStatus::Malformed);
  }
  SECTION("IPv4 total length below the header length") {
    auto p = test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB), {.total_length = 12});
    CHECK(decode(lt::kRaw, p).status == DecodeStatus::Malformed);
  }
  SECTION("IPv4 total length beyond the frame, which was not cut") {
    auto p = test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB), {.total_length = 1400});
    CHECK(decode(lt::kRaw, p).status == DecodeStatus::Malformed);
  }
  SECTION("IPv4 after an IPv6 ethertype") {
    CHECK(decode(lt::kEthernet, test::ethernet(test::kEtherIpv6, v4_packet())).status ==
          DecodeStatus::Malformed);
  }
  SECTION("TCP data offset below 5 or beyond the segment") {
    auto p = v4_packet();
    p[20 + 12] = 0x40;
    CHECK(decode(lt::kRaw, p).status == DecodeStatus::Malformed);
    p[20 + 12] = 0xF0;  // 60 bytes of header in a 25-byte segment
    CHECK(decode(lt::kRaw, p).status == DecodeStatus::Malformed);
  }
  SECTION("a frame shorter than its IPv4 header, not cut by snaplen") {
    const auto p = v4_packet();
    const test::Bytes short_packet(p.begin(), p.begin() + 12);
    CHECK(decode(lt::kRaw, short_packet).status == DecodeStatus::Malformed);
    CHECK(decode_packet(lt::kRaw, short_packet, 60, 0).status == DecodeStatus::Truncated);
  }
}

TEST_CASE("A total length of 0 (segmentation offload) reads to the wire length", "[decoder]") {
  auto p = test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB, "offloaded"), {.total_length = 0});
  const auto d = decode(lt::kRaw, p);
  REQUIRE(d.status == DecodeStatus::Tcp);
  CHECK(text(d.segment.payload) == "offloaded");
}
