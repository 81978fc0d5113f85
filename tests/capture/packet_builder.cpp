#include "capture/packet_builder.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <string>

namespace reprise::test {
namespace {

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put32(Bytes& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

void set16(Bytes& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 8);
  out[at + 1] = static_cast<std::uint8_t>(v);
}

void append(Bytes& out, std::span<const std::uint8_t> more) {
  out.insert(out.end(), more.begin(), more.end());
}

// The Internet checksum (RFC 1071) of `data`, starting from a partial `sum`.
std::uint16_t checksum(std::span<const std::uint8_t> data, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < data.size(); i += 2) {
    sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
  }
  if (data.size() % 2 != 0) sum += static_cast<std::uint32_t>(data.back() << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::span<const std::uint8_t> v4_part(const Address& a) {
  return std::span<const std::uint8_t>(a.bytes).subspan(12);
}

}  // namespace

Address ip(std::string_view text) {
  const std::string s(text);
  Address a;
  std::array<std::uint8_t, 4> v4{};
  if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) {
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::copy(v4.begin(), v4.end(), a.bytes.begin() + 12);
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = 6;
    return a;
  }
  throw std::invalid_argument("not an IP address: " + s);
}

capture::IpEndpoint endpoint(std::string_view address, std::uint16_t port) {
  const Address a = ip(address);
  return capture::IpEndpoint{a.bytes, port, a.family};
}

Bytes bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes tcp(const Address& src, const Address& dst, const TcpHeader& h,
          std::span<const std::uint8_t> payload) {
  Bytes options = h.options;
  while (options.size() % 4 != 0) options.push_back(0);
  Bytes out;
  put16(out, h.src_port);
  put16(out, h.dst_port);
  put32(out, h.seq);
  put32(out, h.ack);
  out.push_back(static_cast<std::uint8_t>(((20 + options.size()) / 4) << 4));
  out.push_back(h.flags);
  put16(out, h.window);
  put16(out, 0);  // checksum, below
  put16(out, 0);  // urgent pointer
  append(out, options);
  append(out, payload);

  Bytes pseudo;
  if (src.family == 4) {
    append(pseudo, v4_part(src));
    append(pseudo, v4_part(dst));
    pseudo.push_back(0);
    pseudo.push_back(kProtoTcp);
    put16(pseudo, static_cast<std::uint16_t>(out.size()));
  } else {
    append(pseudo, src.bytes);
    append(pseudo, dst.bytes);
    put32(pseudo, static_cast<std::uint32_t>(out.size()));
    put32(pseudo, kProtoTcp);
  }
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < pseudo.size(); i += 2) {
    sum += static_cast<std::uint32_t>((pseudo[i] << 8) | pseudo[i + 1]);
  }
  set16(out, 16, checksum(out, sum));
  return out;
}

Bytes ipv4(const Address& src, const Address& dst, std::uint8_t protocol,
           std::span<const std::uint8_t> payload, const Ipv4Options& o) {
  Bytes options = o.options;
  while (options.size() % 4 != 0) options.push_back(0);
  const std::size_t header = 20 + options.size();
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(0x40 | (header / 4)));
  out.push_back(0);
  put16(out, o.total_length.value_or(static_cast<std::uint16_t>(header + payload.size())));
  put16(out, o.id);
  put16(out, static_cast<std::uint16_t>((o.more_fragments ? 0x2000 : 0) | (o.fragment_offset / 8)));
  out.push_back(o.ttl);
  out.push_back(protocol);
  put16(out, 0);
  append(out, v4_part(src));
  append(out, v4_part(dst));
  append(out, options);
  set16(out, 10, checksum(std::span<const std::uint8_t>(out).first(header)));
  append(out, payload);
  return out;
}

Ipv6Extension ipv6_fragment_header(std::uint16_t offset, bool more, std::uint32_t id) {
  Bytes body;
  put16(body, static_cast<std::uint16_t>((offset & 0xFFF8) | (more ? 1 : 0)));
  put32(body, id);
  return Ipv6Extension{44, body};
}

Bytes ipv6(const Address& src, const Address& dst, std::uint8_t protocol,
           std::span<const std::uint8_t> payload, const std::vector<Ipv6Extension>& extensions) {
  Bytes chain;
  for (std::size_t i = 0; i < extensions.size(); ++i) {
    const Ipv6Extension& ext = extensions[i];
    const std::uint8_t next = i + 1 < extensions.size() ? extensions[i + 1].type : protocol;
    Bytes h{next, 0};
    append(h, ext.body);
    if (ext.type == 44) {
      h.resize(8);
    } else if (ext.type == 51) {
      while (h.size() % 4 != 0 || h.size() < 12) h.push_back(0);
      h[1] = static_cast<std::uint8_t>(h.size() / 4 - 2);
    } else {
      while (h.size() % 8 != 0) h.push_back(0);
      h[1] = static_cast<std::uint8_t>(h.size() / 8 - 1);
    }
    append(chain, h);
  }
  Bytes out{0x60, 0, 0, 0};
  put16(out, static_cast<std::uint16_t>(chain.size() + payload.size()));
  out.push_back(extensions.empty() ? protocol : extensions.front().type);
  out.push_back(64);
  append(out, src.bytes);
  append(out, dst.bytes);
  append(out, chain);
  append(out, payload);
  return out;
}

Bytes ethernet(std::uint16_t ethertype, std::span<const std::uint8_t> payload,
               const std::vector<std::uint16_t>& vlan_tpids) {
  Bytes out{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};  // destination, source MAC
  std::uint16_t vid = 100;
  for (const std::uint16_t tpid : vlan_tpids) {
    put16(out, tpid);
    put16(out, vid++);
  }
  put16(out, ethertype);
  append(out, payload);
  return out;
}

Bytes linux_sll(std::uint16_t protocol, std::span<const std::uint8_t> payload) {
  Bytes out;
  put16(out, 0);  // packet type: to us
  put16(out, 1);  // ARPHRD_ETHER
  put16(out, 6);  // address length
  append(out, Bytes{0x02, 0, 0, 0, 0, 0x01, 0, 0});
  put16(out, protocol);
  append(out, payload);
  return out;
}

Bytes linux_sll2(std::uint16_t protocol, std::span<const std::uint8_t> payload) {
  Bytes out;
  put16(out, protocol);
  put16(out, 0);  // reserved
  put32(out, 1);  // interface index
  put16(out, 1);  // ARPHRD_ETHER
  out.push_back(4);  // packet type: outgoing
  out.push_back(6);  // address length
  append(out, Bytes{0x02, 0, 0, 0, 0, 0x01, 0, 0});
  append(out, payload);
  return out;
}

Bytes bsd_loopback(std::uint32_t family, std::span<const std::uint8_t> payload, bool big_endian) {
  Bytes out;
  if (big_endian) {
    put32(out, family);
  } else {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(family >> (8 * i)));
  }
  append(out, payload);
  return out;
}

std::vector<Bytes> fragment_ipv4(std::span<const std::uint8_t> packet, std::size_t chunk) {
  const std::size_t header = static_cast<std::size_t>(packet[0] & 0x0F) * 4;
  const auto payload = packet.subspan(header);
  std::vector<Bytes> out;
  for (std::size_t off = 0; off < payload.size(); off += chunk) {
    const std::size_t n = std::min(chunk, payload.size() - off);
    const bool more = off + n < payload.size();
    Bytes f(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(header));
    set16(f, 2, static_cast<std::uint16_t>(header + n));
    set16(f, 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8)));
    set16(f, 10, 0);
    set16(f, 10, checksum(f));
    append(f, payload.subspan(off, n));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Bytes> fragment_ipv6(const Address& src, const Address& dst, std::uint8_t protocol,
                                 std::span<const std::uint8_t> payload, std::size_t chunk,
                                 std::uint32_t id) {
  std::vector<Bytes> out;
  for (std::size_t off = 0; off < payload.size(); off += chunk) {
    const std::size_t n = std::min(chunk, payload.size() - off);
    const bool more = off + n < payload.size();
    out.push_back(ipv6(src, dst, protocol, payload.subspan(off, n),
                       {ipv6_fragment_header(static_cast<std::uint16_t>(off), more, id)}));
  }
  return out;
}

Bytes eth_tcp(const Address& src, const Address& dst, const TcpHeader& header,
              std::string_view payload) {
  const Bytes segment = tcp(src, dst, header, bytes(payload));
  if (src.family == 4) return ethernet(kEtherIpv4, ipv4(src, dst, kProtoTcp, segment));
  return ethernet(kEtherIpv6, ipv6(src, dst, kProtoTcp, segment));
}

void file_u32(Bytes& out, std::uint32_t v, bool swapped) {
  if (swapped) v = __builtin_bswap32(v);
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + 4);
}

void file_u16(Bytes& out, std::uint16_t v, bool swapped) {
  if (swapped) v = __builtin_bswap16(v);
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + 2);
}

Bytes pcap_bytes(const PcapFormat& f, const std::vector<PcapRecord>& records) {
  constexpr std::uint32_t kLinkEthernet = 1;
  Bytes out;
  file_u32(out, f.magic, f.swapped);
  file_u16(out, 2, f.swapped);
  file_u16(out, 4, f.swapped);
  file_u32(out, 0, f.swapped);
  file_u32(out, 0, f.swapped);
  file_u32(out, f.snaplen, f.swapped);
  file_u32(out, kLinkEthernet, f.swapped);
  const bool nano = f.magic == 0xa1b23c4d;
  for (const auto& r : records) {
    file_u32(out, static_cast<std::uint32_t>(r.ts_ns / 1'000'000'000), f.swapped);
    const auto frac = r.ts_ns % 1'000'000'000;
    file_u32(out, static_cast<std::uint32_t>(nano ? frac : frac / 1000), f.swapped);
    file_u32(out, static_cast<std::uint32_t>(r.data.size()), f.swapped);
    file_u32(out, r.wire_length != 0 ? r.wire_length : static_cast<std::uint32_t>(r.data.size()),
          f.swapped);
    if (f.magic == 0xa1b2cd34) {  // ifindex, protocol, pkt_type, pad
      file_u32(out, 1, f.swapped);
      file_u16(out, 0x0800, f.swapped);
      out.push_back(0);
      out.push_back(0);
    }
    out.insert(out.end(), r.data.begin(), r.data.end());
  }
  return out;
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace reprise::test
