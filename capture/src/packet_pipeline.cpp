#include "reprise/capture/packet_pipeline.hpp"

#include <algorithm>
#include <stdexcept>

namespace reprise::capture {
namespace {

// Whether a fragment's datagram may hold TCP: for IPv6 the next header after the fragment header
// may be another extension header with TCP behind it.
bool may_carry_tcp(const IpFragment& f) {
  constexpr std::uint8_t kTcp = 6;
  if (f.protocol == kTcp) return true;
  if (f.version == 4) return false;
  switch (f.protocol) {
    case 0: case 43: case 51: case 60: case 135: case 139: case 140:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status PacketPipeline::Options::validate() const {
  if (auto s = defrag.validate(); !s) return s;
  return tcp.validate();
}

PacketPipeline::PacketPipeline(StreamSinkFactory& sinks) : PacketPipeline(sinks, Options{}) {}

PacketPipeline::PacketPipeline(StreamSinkFactory& sinks, Options options)
    : defrag_(options.defrag), tcp_(sinks, options.tcp) {}

DecodeStatus PacketPipeline::add(std::uint32_t link_type, std::span<const std::uint8_t> captured,
                                 std::uint32_t wire_length, std::int64_t ts_ns) {
  const DecodedPacket d = decode_packet(link_type, captured, wire_length, ts_ns);
  ++decode_.packets;
  decode_.captured_bytes += captured.size();
  decode_.wire_bytes += std::max<std::uint64_t>(wire_length, captured.size());
  if (d.snaplen_cut) ++decode_.snaplen_truncated;
  defrag_.expire(ts_ns);

  switch (d.status) {
    case DecodeStatus::Tcp:
      ++decode_.tcp_segments;
      tcp_.add(d.segment);
      return d.status;
    case DecodeStatus::Fragment: {
      if (!may_carry_tcp(d.fragment)) {
        ++decode_.not_tcp;
        tcp_.expire(ts_ns);
        return DecodeStatus::NotTcp;
      }
      ++decode_.ip_fragments;
      const auto datagram = defrag_.add(d.fragment);
      if (datagram) {
        const DecodedPacket inner = decode_ip_payload(
            datagram->version, datagram->src, datagram->dst, datagram->protocol, datagram->data,
            datagram->length, datagram->ts_ns, datagram->data.size() < datagram->length);
        if (inner.status == DecodeStatus::Tcp) {
          tcp_.add(inner.segment);
          return d.status;
        }
        ++datagrams_not_tcp_;
      }
      tcp_.expire(ts_ns);
      return d.status;
    }
    case DecodeStatus::NotIp: ++decode_.not_ip; break;
    case DecodeStatus::NotTcp: ++decode_.not_tcp; break;
    case DecodeStatus::Truncated: ++decode_.truncated; break;
    case DecodeStatus::Malformed: ++decode_.malformed; break;
    case DecodeStatus::UnsupportedLinkType: ++decode_.unsupported_link_type; break;
  }
  tcp_.expire(ts_ns);
  return d.status;
}

void PacketPipeline::expire(std::int64_t now_ns) {
  defrag_.expire(now_ns);
  tcp_.expire(now_ns);
}

void PacketPipeline::finish(std::int64_t now_ns) {
  defrag_.finish();
  tcp_.finish(now_ns);
}

PacketStats PacketPipeline::stats() const {
  PacketStats s;
  s.decode = decode_;
  s.defrag = defrag_.stats();
  s.defrag.datagrams_not_tcp = datagrams_not_tcp_;
  s.tcp = tcp_.stats();
  return s;
}

}  // namespace reprise::capture
