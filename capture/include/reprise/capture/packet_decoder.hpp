#pragma once
// Packet decoding: captured link-layer bytes → a TCP segment view, an IP fragment view, or the
// reason the packet is neither. Pure functions: no state, no allocation, no I/O.
//
// In:  the pcap link type of the packet, the captured bytes (caplen of them) and the original
//      length on the wire (len). When len < caplen (a broken record), len is taken as caplen.
// Out: a DecodedPacket whose spans point into the captured bytes (valid as long as they are).
//
// Link types (pcap LINKTYPE_ values): Ethernet with any number of 802.1Q / 802.1ad / 0x9100 VLAN
// tags; Linux cooked v1 and v2; BSD null (AF value in the capturing host's byte order, detected)
// and OpenBSD loop (network byte order); raw IP (101, and 12 and 14, which some platforms write
// for it); IPv4-only (228) and IPv6-only (229).
// IPv4: options skipped, header checksum not checked; a total length of 0 (TSO/GSO captures) is
// read as "up to the wire length". Ethernet padding beyond the IP length is ignored.
// IPv6: hop-by-hop, routing, destination options, fragment, AH, mobility, HIP and shim6 headers
// are walked; ESP and "no next header" end the walk as NotTcp. A fragment header with offset 0
// and no more fragments (an RFC 6946 atomic fragment) is skipped as if absent.
//
// The captured bytes may end early (snaplen): a header cut short is Truncated; a payload cut
// short still decodes, with payload.size() < payload_length and snaplen_cut set.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "reprise/capture/stream_events.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

// pcap LINKTYPE_ values the decoder understands.
namespace link_type {
inline constexpr std::uint32_t kNull = 0;            // BSD loopback, host byte order family
inline constexpr std::uint32_t kEthernet = 1;
inline constexpr std::uint32_t kRawAlt12 = 12;       // DLT_RAW on most BSDs
inline constexpr std::uint32_t kRawAlt14 = 14;       // DLT_RAW on OpenBSD
inline constexpr std::uint32_t kRaw = 101;
inline constexpr std::uint32_t kLoop = 108;          // OpenBSD loopback, network byte order family
inline constexpr std::uint32_t kLinuxSll = 113;
inline constexpr std::uint32_t kIpv4 = 228;
inline constexpr std::uint32_t kIpv6 = 229;
inline constexpr std::uint32_t kLinuxSll2 = 276;
}  // namespace link_type

bool is_supported_link_type(std::uint32_t link_type);
// errc::unsupported_link_type naming the type, for a source to refuse an input at open time.
Status check_link_type(std::uint32_t link_type, std::string_view where);

enum class DecodeStatus : std::uint8_t {
  Tcp,                  // `segment` is valid
  Fragment,             // `fragment` is valid: give it to an IpDefragmenter
  NotIp,                // the link layer carries something else (ARP, LLDP, IPX, ...)
  NotTcp,               // IP, but another protocol (or ESP / no next header)
  Truncated,            // the captured bytes end inside a link, IP, extension or TCP header
  Malformed,            // a header contradicts itself or the lengths around it
  UnsupportedLinkType,
};

std::string_view to_string(DecodeStatus status);

namespace tcp_flag {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
}  // namespace tcp_flag

// One TCP segment as captured.
struct TcpSegment {
  IpEndpoint src;
  IpEndpoint dst;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;                  // tcp_flag bits
  std::span<const std::uint8_t> payload;   // the captured part of the payload
  std::uint32_t payload_length = 0;        // payload length on the wire (IP length − headers)
  std::int64_t ts_ns = 0;                  // packet time
  bool snaplen_cut = false;                // the packet's caplen < its wire length

  bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
  // True when the capture holds fewer payload bytes than were sent.
  bool payload_cut() const { return payload.size() < payload_length; }
};

// One IP fragment (anything but an atomic fragment), for IpDefragmenter.
struct IpFragment {
  std::uint8_t version = 0;                // 4 or 6
  std::array<std::uint8_t, 16> src{};      // IPv4 stored IPv4-mapped, as in IpEndpoint
  std::array<std::uint8_t, 16> dst{};
  std::uint32_t id = 0;                    // IPv4: 16-bit identification; IPv6: 32 bits
  std::uint8_t protocol = 0;               // IPv4 protocol; IPv6 next header after the fragment header
  std::uint32_t offset = 0;                // byte offset of this fragment in the datagram payload
  bool more = false;                       // more fragments follow (MF / M flag)
  std::span<const std::uint8_t> data;      // the captured part of the fragment data
  std::uint32_t length = 0;                // fragment data length on the wire
  std::int64_t ts_ns = 0;
};

struct DecodedPacket {
  DecodeStatus status = DecodeStatus::Malformed;
  bool snaplen_cut = false;                // caplen < wire length, whatever the status
  TcpSegment segment;                      // when status == Tcp
  IpFragment fragment;                     // when status == Fragment
};

// Decodes one captured packet.
DecodedPacket decode_packet(std::uint32_t link_type, std::span<const std::uint8_t> captured,
                            std::uint32_t wire_length, std::int64_t ts_ns);

// Decodes an IP payload whose headers are already known: a datagram reassembled from fragments.
// `protocol` is the IPv4 protocol or the IPv6 next header (further IPv6 extension headers are
// walked; a fragment header inside a reassembled datagram is Malformed). `data` is the captured
// part of the payload, `length` its length on the wire.
DecodedPacket decode_ip_payload(std::uint8_t version, const std::array<std::uint8_t, 16>& src,
                                const std::array<std::uint8_t, 16>& dst, std::uint8_t protocol,
                                std::span<const std::uint8_t> data, std::uint32_t length,
                                std::int64_t ts_ns, bool snaplen_cut);

}  // namespace reprise::capture
