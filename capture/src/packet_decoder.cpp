#include "reprise/capture/packet_decoder.hpp"

#include <algorithm>
#include <string>

#include "reprise/capture/error.hpp"

namespace reprise::capture {
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;     // 802.1Q
constexpr std::uint16_t kEtherQinQ = 0x88A8;     // 802.1ad service tag
constexpr std::uint16_t kEtherQinQOld = 0x9100;  // pre-standard QinQ

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6Auth = 51;
constexpr std::uint8_t kIpv6DestOpts = 60;
constexpr std::uint8_t kIpv6Mobility = 135;
constexpr std::uint8_t kIpv6Hip = 139;
constexpr std::uint8_t kIpv6Shim6 = 140;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint32_t le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         std::uint32_t{p[0]};
}

DecodedPacket with_status(DecodeStatus status, bool cut) {
  return DecodedPacket{.status = status, .snaplen_cut = cut, .segment = {}, .fragment = {}};
}

// A header of `needed` bytes does not fit in the captured bytes. If the wire had them, the capture
// cut the packet (Truncated); if not, the packet itself is too short for what it claims.
DecodedPacket short_header(std::size_t needed, std::uint64_t wire_available, bool cut) {
  return with_status(wire_available >= needed ? DecodeStatus::Truncated : DecodeStatus::Malformed,
                     cut);
}

std::array<std::uint8_t, 16> v4_mapped(const std::uint8_t* p) {
  std::array<std::uint8_t, 16> a{};
  a[10] = 0xff;
  a[11] = 0xff;
  std::copy(p, p + 4, a.begin() + 12);
  return a;
}

std::array<std::uint8_t, 16> v6_address(const std::uint8_t* p) {
  std::array<std::uint8_t, 16> a{};
  std::copy(p, p + 16, a.begin());
  return a;
}

DecodedPacket fragment_packet(std::uint8_t version, const std::array<std::uint8_t, 16>& src,
                              const std::array<std::uint8_t, 16>& dst, std::uint32_t id,
                              std::uint8_t protocol, std::uint32_t offset, bool more, Bytes data,
                              std::uint32_t length, std::int64_t ts_ns, bool cut) {
  return DecodedPacket{.status = DecodeStatus::Fragment,
                       .snaplen_cut = cut,
                       .segment = {},
                       .fragment = {.version = version,
                                    .src = src,
                                    .dst = dst,
                                    .id = id,
                                    .protocol = protocol,
                                    .offset = offset,
                                    .more = more,
                                    .data = data,
                                    .length = length,
                                    .ts_ns = ts_ns}};
}

DecodedPacket decode_tcp(std::uint8_t version, const std::array<std::uint8_t, 16>& src,
                         const std::array<std::uint8_t, 16>& dst, Bytes data, std::uint32_t length,
                         std::int64_t ts_ns, bool cut) {
  if (data.size() < 20) return short_header(20, length, cut);
  const std::uint32_t header = std::uint32_t{static_cast<std::uint8_t>(data[12] >> 4)} * 4;
  if (header < 20 || header > length) return with_status(DecodeStatus::Malformed, cut);
  if (data.size() < header) return with_status(DecodeStatus::Truncated, cut);

  // Built in place in the caller's result (a returned prvalue is never copied): this runs for
  // every packet, and a named local filled in and returned cost a 170-byte zeroing and copy.
  return DecodedPacket{.status = DecodeStatus::Tcp,
                       .snaplen_cut = cut,
                       .segment = {.src = IpEndpoint{src, be16(data.data()), version},
                                   .dst = IpEndpoint{dst, be16(data.data() + 2), version},
                                   .seq = be32(data.data() + 4),
                                   .ack = be32(data.data() + 8),
                                   .flags = data[13],
                                   .payload = data.subspan(header),
                                   .payload_length = length - header,
                                   .ts_ns = ts_ns,
                                   .snaplen_cut = cut},
                       .fragment = {}};
}

// The transport layer, after walking IPv6 extension headers. `length` is the wire length of
// `data`; data.size() < length only when the capture cut the packet.
DecodedPacket decode_upper(std::uint8_t version, const std::array<std::uint8_t, 16>& src,
                           const std::array<std::uint8_t, 16>& dst, std::uint8_t protocol,
                           Bytes data, std::uint32_t length, std::int64_t ts_ns, bool cut,
                           bool reassembled) {
  // Each extension header is at least 8 bytes, so the walk ends within length / 8 steps.
  while (version == 6) {
    std::uint32_t header = 0;
    if (protocol == kIpv6Fragment) {
      if (data.size() < 8) return short_header(8, length, cut);
      if (reassembled) return with_status(DecodeStatus::Malformed, cut);
      const std::uint8_t next = data[0];
      const std::uint32_t offset = be16(data.data() + 2) & 0xFFF8u;
      const bool more = (data[3] & 1) != 0;
      const std::uint32_t id = be32(data.data() + 4);
      data = data.subspan(8);
      length -= 8;
      if (offset == 0 && !more) {  // atomic fragment: the whole datagram is here
        protocol = next;
        continue;
      }
      return fragment_packet(6, src, dst, id, next, offset, more, data, length, ts_ns, cut);
    }
    if (protocol == kIpv6HopByHop || protocol == kIpv6Routing || protocol == kIpv6DestOpts ||
        protocol == kIpv6Mobility || protocol == kIpv6Hip || protocol == kIpv6Shim6) {
      if (data.size() < 2) return short_header(2, length, cut);
      header = (std::uint32_t{data[1]} + 1) * 8;
    } else if (protocol == kIpv6Auth) {
      if (data.size() < 2) return short_header(2, length, cut);
      header = (std::uint32_t{data[1]} + 2) * 4;
    } else {
      break;  // an upper layer, ESP (50) or no next header (59)
    }
    if (header > length) return with_status(DecodeStatus::Malformed, cut);
    if (header > data.size()) return with_status(DecodeStatus::Truncated, cut);
    protocol = data[0];
    data = data.subspan(header);
    length -= header;
  }
  if (protocol != kProtoTcp) return with_status(DecodeStatus::NotTcp, cut);
  return decode_tcp(version, src, dst, data, length, ts_ns, cut);
}

DecodedPacket decode_ipv4(Bytes data, std::uint64_t wire, std::int64_t ts_ns, bool cut) {
  if (data.size() < 20) return short_header(20, wire, cut);
  if ((data[0] >> 4) != 4) return with_status(DecodeStatus::Malformed, cut);
  const std::uint32_t header = std::uint32_t{static_cast<std::uint8_t>(data[0] & 0x0F)} * 4;
  if (header < 20) return with_status(DecodeStatus::Malformed, cut);
  if (data.size() < header) return short_header(header, wire, cut);
  std::uint64_t total = be16(data.data() + 2);
  // Segmentation offload hands the capture oversized packets whose total length reads 0.
  if (total == 0) total = wire;
  if (total < header || total > wire) return with_status(DecodeStatus::Malformed, cut);

  const auto src = v4_mapped(data.data() + 12);
  const auto dst = v4_mapped(data.data() + 16);
  const std::uint8_t protocol = data[9];
  const std::uint32_t length = static_cast<std::uint32_t>(total - header);
  // Bytes past `total` are link-layer padding (short Ethernet frames), not payload.
  const Bytes payload = data.subspan(header, std::min<std::uint64_t>(data.size(), total) - header);

  const std::uint16_t frag = be16(data.data() + 6);
  const bool more = (frag & 0x2000) != 0;
  const std::uint32_t offset = std::uint32_t{static_cast<std::uint16_t>(frag & 0x1FFF)} * 8;
  if (more || offset != 0) {
    return fragment_packet(4, src, dst, be16(data.data() + 4), protocol, offset, more, payload,
                           length, ts_ns, cut);
  }
  return decode_upper(4, src, dst, protocol, payload, length, ts_ns, cut, false);
}

DecodedPacket decode_ipv6(Bytes data, std::uint64_t wire, std::int64_t ts_ns, bool cut) {
  if (data.size() < 40) return short_header(40, wire, cut);
  if ((data[0] >> 4) != 6) return with_status(DecodeStatus::Malformed, cut);
  std::uint64_t total = 40 + std::uint64_t{be16(data.data() + 4)};
  // A payload length of 0 is a jumbogram or an offloaded super-packet: take the wire length.
  if (total == 40) total = wire;
  if (total > wire || total > 0xFFFFFFFFu) return with_status(DecodeStatus::Malformed, cut);
  const Bytes payload = data.subspan(40, std::min<std::uint64_t>(data.size(), total) - 40);
  return decode_upper(6, v6_address(data.data() + 8), v6_address(data.data() + 24), data[6],
                      payload, static_cast<std::uint32_t>(total - 40), ts_ns, cut, false);
}

// `version` 0: read it from the first nibble (raw IP).
DecodedPacket decode_ip(int version, Bytes data, std::uint64_t wire, std::int64_t ts_ns, bool cut) {
  if (data.empty()) return short_header(1, wire, cut);
  if (version == 0) {
    version = data[0] >> 4;
    if (version != 4 && version != 6) return with_status(DecodeStatus::NotIp, cut);
  }
  return version == 4 ? decode_ipv4(data, wire, ts_ns, cut) : decode_ipv6(data, wire, ts_ns, cut);
}

DecodedPacket decode_ethertype(std::uint16_t type, Bytes data, std::size_t offset,
                               std::uint64_t wire, std::int64_t ts_ns, bool cut) {
  // VLAN tags: each is 2 bytes of tag control then the next ethertype.
  while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld) {
    if (data.size() < offset + 4) return short_header(offset + 4, wire, cut);
    type = be16(data.data() + offset + 2);
    offset += 4;
  }
  if (type != kEtherIpv4 && type != kEtherIpv6) return with_status(DecodeStatus::NotIp, cut);
  return decode_ip(type == kEtherIpv4 ? 4 : 6, data.subspan(offset), wire - offset, ts_ns, cut);
}

// BSD AF_ values: AF_INET is 2 everywhere; AF_INET6 differs per OS (24 Net/OpenBSD, 28 FreeBSD,
// 30 Darwin, 10 Linux, 26 Solaris, 23 Windows — where 23 is AF_IPX on BSD, so check the nibble).
DecodedPacket decode_family(std::uint32_t family, Bytes data, std::uint64_t wire,
                            std::int64_t ts_ns, bool cut) {
  const Bytes ip = data.subspan(4);
  if (family == 2) return decode_ip(4, ip, wire - 4, ts_ns, cut);
  if (family == 24 || family == 28 || family == 30 || family == 10 || family == 23 ||
      family == 26) {
    if (!ip.empty() && (ip[0] >> 4) != 6) return with_status(DecodeStatus::NotIp, cut);
    return decode_ip(6, ip, wire - 4, ts_ns, cut);
  }
  return with_status(DecodeStatus::NotIp, cut);
}

}  // namespace

bool is_supported_link_type(std::uint32_t lt) {
  switch (lt) {
    case link_type::kNull:
    case link_type::kEthernet:
    case link_type::kRawAlt12:
    case link_type::kRawAlt14:
    case link_type::kRaw:
    case link_type::kLoop:
    case link_type::kLinuxSll:
    case link_type::kIpv4:
    case link_type::kIpv6:
    case link_type::kLinuxSll2:
      return true;
    default:
      return false;
  }
}

Status check_link_type(std::uint32_t lt, std::string_view where) {
  if (is_supported_link_type(lt)) return {};
  return fail(errc::unsupported_link_type, std::string(where),
              "link type " + std::to_string(lt) +
                  "; supported: Ethernet (1), Linux cooked (113, 276), BSD loopback (0, 108), "
                  "raw IP (101, 12, 14, 228, 229)");
}

std::string_view to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::Tcp: return "tcp";
    case DecodeStatus::Fragment: return "fragment";
    case DecodeStatus::NotIp: return "not_ip";
    case DecodeStatus::NotTcp: return "not_tcp";
    case DecodeStatus::Truncated: return "truncated";
    case DecodeStatus::Malformed: return "malformed";
    case DecodeStatus::UnsupportedLinkType: return "unsupported_link_type";
  }
  return "unknown";
}

DecodedPacket decode_packet(std::uint32_t lt, std::span<const std::uint8_t> captured,
                            std::uint32_t wire_length, std::int64_t ts_ns) {
  const std::uint64_t wire = std::max<std::uint64_t>(wire_length, captured.size());
  const bool cut = captured.size() < wire;
  switch (lt) {
    case link_type::kEthernet:
      if (captured.size() < 14) return short_header(14, wire, cut);
      return decode_ethertype(be16(captured.data() + 12), captured, 14, wire, ts_ns, cut);
    case link_type::kLinuxSll:
      if (captured.size() < 16) return short_header(16, wire, cut);
      return decode_ethertype(be16(captured.data() + 14), captured, 16, wire, ts_ns, cut);
    case link_type::kLinuxSll2:
      if (captured.size() < 20) return short_header(20, wire, cut);
      return decode_ethertype(be16(captured.data()), captured, 20, wire, ts_ns, cut);
    case link_type::kNull: {
      if (captured.size() < 4) return short_header(4, wire, cut);
      // Host byte order of the capturing machine: a family value never exceeds 16 bits, so a
      // little-endian read that does was written big-endian.
      std::uint32_t family = le32(captured.data());
      if (family > 0xFFFF) family = be32(captured.data());
      return decode_family(family, captured, wire, ts_ns, cut);
    }
    case link_type::kLoop:
      if (captured.size() < 4) return short_header(4, wire, cut);
      return decode_family(be32(captured.data()), captured, wire, ts_ns, cut);
    case link_type::kRaw:
    case link_type::kRawAlt12:
    case link_type::kRawAlt14:
      return decode_ip(0, captured, wire, ts_ns, cut);
    case link_type::kIpv4:
      return decode_ip(4, captured, wire, ts_ns, cut);
    case link_type::kIpv6:
      return decode_ip(6, captured, wire, ts_ns, cut);
    default:
      return with_status(DecodeStatus::UnsupportedLinkType, cut);
  }
}

DecodedPacket decode_ip_payload(std::uint8_t version, const std::array<std::uint8_t, 16>& src,
                                const std::array<std::uint8_t, 16>& dst, std::uint8_t protocol,
                                std::span<const std::uint8_t> data, std::uint32_t length,
                                std::int64_t ts_ns, bool snaplen_cut) {
  if (data.size() > length) data = data.first(length);
  return decode_upper(version, src, dst, protocol, data, length, ts_ns, snaplen_cut, true);
}

}  // namespace reprise::capture
