#include "reprise/capture/ip_defragmenter.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "capture/packet_builder.hpp"
#include "reprise/capture/error.hpp"

using namespace reprise;
using capture::DecodeStatus;
using capture::IpDefragmenter;
using capture::IpFragment;
namespace lt = capture::link_type;

namespace {

const test::Address kA = test::ip("192.0.2.1");
const test::Address kB = test::ip("198.51.100.7");
const test::Address k6A = test::ip("2001:db8::1");
const test::Address k6B = test::ip("2001:db8::2");

test::Bytes segment(const test::Address& src, const test::Address& dst, std::string_view payload) {
  return test::tcp(src, dst, {.src_port = 40000, .dst_port = 80, .seq = 1, .flags = 0x18},
                   test::bytes(payload));
}

// Decodes a raw IP packet that must be a fragment; the view points into `packet`.
IpFragment fragment_of(const test::Bytes& packet, std::int64_t ts = 0) {
  const auto d = capture::decode_packet(lt::kRaw, packet, static_cast<std::uint32_t>(packet.size()),
                                        ts);
  REQUIRE(d.status == DecodeStatus::Fragment);
  return d.fragment;
}

// One IPv4 fragment of datagram `id` carrying `data` at `offset`.
test::Bytes v4_fragment(std::uint16_t id, std::uint16_t offset, bool more,
                        std::span<const std::uint8_t> data) {
  return test::ipv4(kA, kB, test::kProtoTcp, data,
                    {.id = id, .more_fragments = more, .fragment_offset = offset});
}

std::string decoded_payload(const capture::ReassembledDatagram& d) {
  const auto inner = capture::decode_ip_payload(d.version, d.src, d.dst, d.protocol, d.data,
                                                d.length, d.ts_ns, false);
  REQUIRE(inner.status == DecodeStatus::Tcp);
  return std::string(inner.segment.payload.begin(), inner.segment.payload.end());
}

}  // namespace

TEST_CASE("IPv4 fragments reassemble in any order", "[defrag]") {
  const std::string body(100, 'p');
  const auto whole = test::ipv4(kA, kB, test::kProtoTcp, segment(kA, kB, body), {.id = 77});
  const auto pieces = test::fragment_ipv4(whole, 48);
  REQUIRE(pieces.size() == 3);
  const std::vector<std::vector<int>> orders = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}};
  for (const auto& order : orders) {
    CAPTURE(order);
    IpDefragmenter d;
    std::optional<capture::ReassembledDatagram> out;
    for (std::size_t i = 0; i < order.size(); ++i) {
      REQUIRE_FALSE(out);
      out = d.add(fragment_of(pieces[static_cast<std::size_t>(order[i])],
                              static_cast<std::int64_t>(10 * (i + 1))));
    }
    REQUIRE(out);
    CHECK(out->version == 4);
    CHECK(out->protocol == test::kProtoTcp);
    CHECK(out->length == 120);
    CHECK(out->data.size() == 120);
    CHECK(out->ts_ns == 30);  // the fragment that completed it
    CHECK(decoded_payload(*out) == body);
    CHECK(d.stats().datagrams_reassembled == 1);
    CHECK(d.stats().fragments == 3);
    CHECK(d.datagrams_in_progress() == 0);
    CHECK(d.bytes_held() == 0);
  }
}

TEST_CASE("IPv6 fragments reassemble, with headers behind the fragment header", "[defrag]") {
  // Destination options travel in the fragmentable part, in front of TCP.
  test::Bytes payload{test::kProtoTcp, 0, 1, 4, 0, 0, 0, 0};
  const auto tcp = segment(k6A, k6B, std::string(70, 'q'));
  payload.insert(payload.end(), tcp.begin(), tcp.end());
  const auto pieces = test::fragment_ipv6(k6A, k6B, 60, payload, 32, 0xCAFE);
  REQUIRE(pieces.size() == 4);
  IpDefragmenter d;
  std::optional<capture::ReassembledDatagram> out;
  for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) out = d.add(fragment_of(*it));
  REQUIRE(out);
  CHECK(out->version == 6);
  CHECK(out->protocol == 60);
  CHECK(out->src == k6A.bytes);
  CHECK(decoded_payload(*out) == std::string(70, 'q'));
}

TEST_CASE("Overlapping fragments keep the first copy, conflicts are counted", "[defrag]") {
  const auto seg = segment(kA, kB, std::string(32, 'A'));  // 52 bytes
  const std::span<const std::uint8_t> all(seg);
  test::Bytes evil(all.begin() + 16, all.begin() + 40);
  std::fill(evil.begin(), evil.begin() + 8, 'X');  // differs where it overlaps the first piece

  const auto f1 = v4_fragment(9, 0, true, all.subspan(0, 24));
  const auto f2 = v4_fragment(9, 16, true, evil);
  const auto f3 = v4_fragment(9, 40, false, all.subspan(40));
  IpDefragmenter d;
  CHECK_FALSE(d.add(fragment_of(f1)));
  CHECK_FALSE(d.add(fragment_of(f1)));  // an exact duplicate: an overlap, no conflict
  CHECK_FALSE(d.add(fragment_of(f2)));
  const auto out = d.add(fragment_of(f3));
  REQUIRE(out);
  CHECK(std::equal(out->data.begin(), out->data.end(), seg.begin(), seg.end()));
  CHECK(d.stats().overlapping_fragments == 2);
  CHECK(d.stats().conflicting_overlaps == 1);
}

TEST_CASE("Incomplete datagrams time out on packet time", "[defrag]") {
  const auto seg = segment(kA, kB, std::string(32, 'A'));
  const auto first = v4_fragment(1, 0, true, std::span(seg).first(24));
  IpDefragmenter::Options o;
  o.timeout_ns = 1000;
  IpDefragmenter d(o);

  SECTION("by expire()") {
    d.add(fragment_of(first, 0));
    d.expire(999);
    CHECK(d.datagrams_in_progress() == 1);
    d.expire(1000);
    CHECK(d.datagrams_in_progress() == 0);
  }
  SECTION("by a later fragment's time") {
    d.add(fragment_of(first, 0));
    const auto other = v4_fragment(2, 0, true, std::span(seg).first(24));
    d.add(fragment_of(other, 1500));
    CHECK(d.datagrams_in_progress() == 1);
  }
  CHECK(d.stats().datagrams_timed_out == 1);
  CHECK(d.stats().fragments_dropped == 1);
  CHECK(d.bytes_held() <= 24);
}

TEST_CASE("The datagram limit drops the oldest datagram", "[defrag]") {
  const auto seg = segment(kA, kB, std::string(32, 'A'));
  const std::span<const std::uint8_t> all(seg);
  IpDefragmenter::Options o;
  o.max_datagrams = 2;
  IpDefragmenter d(o);
  std::vector<test::Bytes> firsts, lasts;
  for (std::uint16_t id = 1; id <= 3; ++id) {
    firsts.push_back(v4_fragment(id, 0, true, all.first(24)));
    lasts.push_back(v4_fragment(id, 24, false, all.subspan(24)));
  }
  for (const auto& f : firsts) d.add(fragment_of(f));
  CHECK(d.datagrams_in_progress() == 2);
  CHECK(d.stats().limit_hits == 1);
  CHECK(d.stats().datagrams_evicted == 1);
  CHECK(d.stats().fragments_dropped == 1);
  CHECK_FALSE(d.add(fragment_of(lasts[0])));  // datagram 1 is gone: this starts a new one
  CHECK(d.add(fragment_of(lasts[2])));        // datagram 3 is still there
}

TEST_CASE("The byte limit drops the oldest datagrams", "[defrag]") {
  const auto seg = segment(kA, kB, std::string(60, 'A'));  // 80 bytes
  const std::span<const std::uint8_t> all(seg);
  IpDefragmenter::Options o;
  o.max_bytes = 60;
  IpDefragmenter d(o);
  const auto a = v4_fragment(1, 0, true, all.first(24));
  const auto b = v4_fragment(2, 0, true, all.first(24));
  const auto c = v4_fragment(3, 0, true, all.first(24));
  d.add(fragment_of(a));
  d.add(fragment_of(b));
  CHECK(d.bytes_held() == 48);
  d.add(fragment_of(c));
  CHECK(d.bytes_held() == 48);
  CHECK(d.stats().datagrams_evicted == 1);

  // A fragment bigger than the whole limit cannot be held at all.
  const auto big = v4_fragment(4, 0, true, all.first(64));
  CHECK_FALSE(d.add(fragment_of(big)));
  CHECK(d.datagrams_in_progress() == 0);
  CHECK(d.bytes_held() == 0);
  CHECK(d.stats().datagrams_evicted == 4);
  CHECK(d.stats().limit_hits == 4);
}

TEST_CASE("Malformed fragments are counted and dropped", "[defrag]") {
  IpDefragmenter d;
  const test::Bytes data(16, 'x');
  IpFragment f;
  f.version = 4;
  f.src = kA.bytes;
  f.dst = kB.bytes;
  f.id = 5;
  f.protocol = test::kProtoTcp;
  f.data = data;
  f.length = 16;

  f.offset = 65528;  // ends past 64 KiB
  f.more = true;
  CHECK_FALSE(d.add(f));
  f.offset = 0;
  f.length = 12;  // not the last, yet not a multiple of 8
  f.data = std::span(data).first(12);
  CHECK_FALSE(d.add(f));
  CHECK(d.stats().malformed_fragments == 2);
  CHECK(d.datagrams_in_progress() == 0);

  // Two last fragments that disagree on where the datagram ends drop it.
  f.id = 7;
  f.more = false;
  f.length = 8;
  f.data = std::span(data).first(8);
  f.offset = 16;  // ends at 24
  CHECK_FALSE(d.add(f));
  f.offset = 32;  // ends at 40
  CHECK_FALSE(d.add(f));
  CHECK(d.stats().malformed_fragments == 3);
  CHECK(d.stats().fragments_dropped == 1);
  CHECK(d.datagrams_in_progress() == 0);
}

TEST_CASE("A fragment beyond the known end drops the datagram", "[defrag]") {
  IpDefragmenter d;
  const test::Bytes data(16, 'x');
  IpFragment f;
  f.version = 4;
  f.id = 6;
  f.protocol = test::kProtoTcp;
  f.data = data;
  f.length = 16;
  f.offset = 32;
  f.more = false;  // the datagram ends at 48
  CHECK_FALSE(d.add(f));
  f.offset = 48;
  f.more = true;  // claims bytes past the end
  CHECK_FALSE(d.add(f));
  CHECK(d.stats().malformed_fragments == 1);
  CHECK(d.stats().fragments_dropped == 1);
  CHECK(d.datagrams_in_progress() == 0);
}

TEST_CASE("A fragment cut by snaplen completes a truncated datagram", "[defrag]") {
  const auto seg = segment(kA, kB, std::string(32, 'A'));  // 52 bytes
  const auto f1 = v4_fragment(3, 0, true, std::span(seg).first(24));
  const auto f2 = v4_fragment(3, 24, false, std::span(seg).subspan(24));
  IpDefragmenter d;
  d.add(fragment_of(f2));
  const test::Bytes cut(f1.begin(), f1.end() - 4);  // caplen 4 short of the wire
  const auto view = capture::decode_packet(lt::kRaw, cut, static_cast<std::uint32_t>(f1.size()), 0);
  REQUIRE(view.status == DecodeStatus::Fragment);
  CHECK(view.fragment.data.size() == 20);
  const auto out = d.add(view.fragment);
  REQUIRE(out);
  CHECK(out->length == 52);
  CHECK(out->data.size() == 20);  // the captured prefix; the rest is a gap for the TCP layer
  CHECK(d.stats().datagrams_truncated == 1);
}

TEST_CASE("finish counts datagrams left unfinished", "[defrag]") {
  const auto seg = segment(kA, kB, std::string(32, 'A'));
  const auto f1 = v4_fragment(3, 0, true, std::span(seg).first(24));
  IpDefragmenter d;
  d.add(fragment_of(f1));
  d.finish();
  CHECK(d.stats().datagrams_unfinished == 1);
  CHECK(d.stats().fragments_dropped == 1);
  CHECK(d.datagrams_in_progress() == 0);
}

TEST_CASE("Defragmenter options are validated", "[defrag]") {
  IpDefragmenter::Options o;
  CHECK(o.validate().ok());
  o.max_bytes = 0;
  CHECK(o.validate().error().code == capture::errc::bad_option);
  CHECK_THROWS_AS(IpDefragmenter(o), std::invalid_argument);
}
