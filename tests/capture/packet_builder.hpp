#pragma once
// Builds link-layer frames, IP packets and TCP segments for tests, byte by byte as they appear on
// the wire (network byte order, IPv4 header checksum and TCP checksum filled in), so decoder tests
// and integration tests can write real pcaps from them.
//
//   auto syn = test::tcp(a, b, {.src_port = 40000, .dst_port = 80, .seq = 1, .flags = kSyn}, {});
//   auto frame = test::ethernet(test::kEtherIpv4, test::ipv4(a, b, test::kProtoTcp, syn));

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reprise/capture/stream_events.hpp"

namespace reprise::test {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint16_t kEtherIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherIpv6 = 0x86DD;
inline constexpr std::uint16_t kEtherArp = 0x0806;
inline constexpr std::uint16_t kEtherVlan = 0x8100;
inline constexpr std::uint16_t kEtherQinQ = 0x88A8;
inline constexpr std::uint16_t kEtherQinQOld = 0x9100;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;

// An IP address; IPv4 is held IPv4-mapped like capture::IpEndpoint.
struct Address {
  std::array<std::uint8_t, 16> bytes{};
  std::uint8_t family = 0;  // 4 or 6
};

// "10.0.0.1" or "2001:db8::1"; throws std::invalid_argument on anything else.
Address ip(std::string_view text);
capture::IpEndpoint endpoint(std::string_view address, std::uint16_t port);
Bytes bytes(std::string_view text);

struct TcpHeader {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;      // capture::tcp_flag bits
  std::uint16_t window = 65535;
  Bytes options{};             // zero-padded (end of option list) to a multiple of 4 bytes
};

// A TCP header and payload, checksummed over the pseudo-header of src/dst.
Bytes tcp(const Address& src, const Address& dst, const TcpHeader& header,
          std::span<const std::uint8_t> payload);

struct Ipv4Options {
  std::uint16_t id = 1;
  std::uint8_t ttl = 64;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;        // in bytes, a multiple of 8
  Bytes options{};                          // padded with zeros to 4 bytes
  std::optional<std::uint16_t> total_length{};  // to build inconsistent packets
};
Bytes ipv4(const Address& src, const Address& dst, std::uint8_t protocol,
           std::span<const std::uint8_t> payload, const Ipv4Options& options = {});

// An IPv6 extension header. The builder writes next header and length; `body` is what follows
// those two bytes, zero-padded to the header's unit (8 bytes; AH: 4 bytes).
struct Ipv6Extension {
  std::uint8_t type = 0;  // 0 hop-by-hop, 43 routing, 60 destination options, 51 AH, 44 fragment
  Bytes body;
};
// The 8-byte fragment header: offset in bytes (a multiple of 8).
Ipv6Extension ipv6_fragment_header(std::uint16_t offset, bool more, std::uint32_t id);

Bytes ipv6(const Address& src, const Address& dst, std::uint8_t protocol,
           std::span<const std::uint8_t> payload, const std::vector<Ipv6Extension>& extensions = {});

// Link layers around an IP packet.
Bytes ethernet(std::uint16_t ethertype, std::span<const std::uint8_t> payload,
               const std::vector<std::uint16_t>& vlan_tpids = {});
Bytes linux_sll(std::uint16_t protocol, std::span<const std::uint8_t> payload);
Bytes linux_sll2(std::uint16_t protocol, std::span<const std::uint8_t> payload);
// BSD null / OpenBSD loop: a 4-byte address family, little- or big-endian.
Bytes bsd_loopback(std::uint32_t family, std::span<const std::uint8_t> payload, bool big_endian);

// Splits an IPv4 packet built by ipv4() into fragments carrying at most `chunk` payload bytes
// (a multiple of 8), copying its header (the id is kept).
std::vector<Bytes> fragment_ipv4(std::span<const std::uint8_t> packet, std::size_t chunk);
// An IPv6 datagram carrying `payload` (of protocol `protocol`) in fragments of at most `chunk`
// bytes, each with a fragment header of identification `id`.
std::vector<Bytes> fragment_ipv6(const Address& src, const Address& dst, std::uint8_t protocol,
                                 std::span<const std::uint8_t> payload, std::size_t chunk,
                                 std::uint32_t id);

// Shorthands for the common case: Ethernet / IPv4 or IPv6 / TCP.
Bytes eth_tcp(const Address& src, const Address& dst, const TcpHeader& header,
              std::string_view payload);

// Capture files, byte by byte. A classic pcap of Ethernet frames:
struct PcapRecord {
  std::int64_t ts_ns;
  Bytes data;
  std::uint32_t wire_length = 0;  // 0: data.size()
};
struct PcapFormat {
  std::uint32_t magic = 0xa1b2c3d4;  // 0xa1b23c4d: nanoseconds; 0xa1b2cd34: Kuznetsov's
  bool swapped = false;
  std::uint32_t snaplen = 262144;
};
Bytes pcap_bytes(const PcapFormat& format, const std::vector<PcapRecord>& records);
// Appends `v` as a little-endian capture file stores it (big-endian when `swapped`).
void file_u32(Bytes& out, std::uint32_t v, bool swapped = false);
void file_u16(Bytes& out, std::uint16_t v, bool swapped = false);
void write_file(const std::string& path, const Bytes& bytes);

}  // namespace reprise::test
