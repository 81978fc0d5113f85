// PcapSource on files written byte by byte here: classic pcap in both byte orders and both
// timestamp resolutions (read by PcapFileReader), formats libpcap alone reads (pcapng, a modified
// pcap), several files merged by time, BPF filters, snaplen, files and packets larger than the
// reader's buffer, and cut-off files.

#include "reprise/capture/pcap_source.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "packet_builder.hpp"
#include "support/temp_dir.hpp"

namespace reprise::capture {
namespace {

using test::Bytes;

constexpr std::uint32_t kLinkEthernet = 1;

using Rec = test::PcapRecord;
using test::pcap_bytes;
using test::file_u16;
using test::file_u32;
using test::write_file;

// A little-endian pcapng file: a section header, one Ethernet interface with the default
// microsecond timestamps, then an enhanced packet block per record, whose offsets go to `block_at`.
Bytes pcapng_bytes(const std::vector<Rec>& records, std::vector<std::size_t>* block_at = nullptr) {
  Bytes out;
  for (const std::uint32_t v : {0x0A0D0D0Au, 28u, 0x1A2B3C4Du}) file_u32(out, v, false);
  file_u16(out, 1, false);  // version 1.0
  file_u16(out, 0, false);
  for (const std::uint32_t v : {0xffffffffu, 0xffffffffu, 28u}) file_u32(out, v, false);  // length unknown
  file_u32(out, 1, false);  // interface description block
  file_u32(out, 20, false);
  file_u16(out, static_cast<std::uint16_t>(kLinkEthernet), false);
  file_u16(out, 0, false);
  file_u32(out, 262144, false);
  file_u32(out, 20, false);
  for (const auto& r : records) {
    const auto size = static_cast<std::uint32_t>(r.data.size());
    const std::uint32_t length = 32 + ((size + 3) & ~3u);
    if (block_at != nullptr) block_at->push_back(out.size());
    const auto us = static_cast<std::uint64_t>(r.ts_ns / 1000);
    for (const std::uint32_t v : {6u, length, 0u, static_cast<std::uint32_t>(us >> 32),
                                  static_cast<std::uint32_t>(us), size, size})
      file_u32(out, v, false);
    out.insert(out.end(), r.data.begin(), r.data.end());
    out.resize(out.size() + (length - 32 - size), 0);
    file_u32(out, length, false);
  }
  return out;
}

Bytes frame(std::uint16_t port, std::string_view payload) {
  return test::eth_tcp(test::ip("10.0.0.1"), test::ip("10.0.0.2"),
                       {.src_port = 40000, .dst_port = port, .seq = 1, .flags = 0x18}, payload);
}

struct Got {
  std::vector<Rec> packets;
  std::optional<std::string> error;
};

Got read_all(const std::vector<std::string>& paths, const std::string& filter = "") {
  auto source = PcapSource::open_files(paths, filter);
  REQUIRE(source);
  Got got;
  Packet p;
  for (;;) {
    auto next = (*source)->next(p);
    if (!next) {
      got.error = next.error().message();
      break;
    }
    if (*next == PcapSource::Next::End) break;
    REQUIRE(p.link_type == kLinkEthernet);
    got.packets.push_back({p.ts_ns, Bytes(p.data.begin(), p.data.end()), p.wire_length});
  }
  CHECK((*source)->stats().packets == got.packets.size());
  return got;
}

std::vector<Rec> sample_records() {
  return {{1'700'000'000'123'456'000, frame(80, "GET / HTTP/1.1\r\n\r\n")},
          {1'700'000'000'123'457'000, frame(80, "HTTP/1.1 200 OK\r\n\r\n")},
          {1'700'000'001'000'001'000, frame(81, "x")}};
}

}  // namespace

TEST_CASE("pcap source: classic pcap in either byte order and timestamp resolution",
          "[capture][pcap]") {
  test::TempDir dir;
  const auto records = sample_records();
  for (const std::uint32_t magic : {0xa1b2c3d4u, 0xa1b23c4du, 0xa1b2cd34u}) {
    for (const bool swapped : {false, true}) {
      CAPTURE(magic, swapped);
      const auto path = dir.file("f.pcap");
      write_file(path, pcap_bytes({.magic = magic, .swapped = swapped}, records));
      const Got got = read_all({path});
      REQUIRE_FALSE(got.error);
      REQUIRE(got.packets.size() == records.size());
      for (std::size_t i = 0; i < records.size(); ++i) {
        CHECK(got.packets[i].ts_ns == records[i].ts_ns);
        CHECK(got.packets[i].data == records[i].data);
        CHECK(got.packets[i].wire_length == records[i].data.size());
      }
    }
  }
}

TEST_CASE("pcap source: several files are merged in time order", "[capture][pcap]") {
  test::TempDir dir;
  std::vector<Rec> a, b;
  for (int i = 0; i < 50; ++i) {
    auto& into = (i % 3 == 0) ? b : a;  // uneven interleaving
    into.push_back({1'000'000'000LL + i * 1000, frame(80, std::to_string(i))});
  }
  write_file(dir.file("a.pcap"), pcap_bytes({}, a));
  write_file(dir.file("b.pcap"), pcap_bytes({.magic = 0xa1b23c4d, .swapped = true}, b));
  const Got got = read_all({dir.file("a.pcap"), dir.file("b.pcap")});
  REQUIRE_FALSE(got.error);
  REQUIRE(got.packets.size() == 50);
  for (int i = 0; i < 50; ++i) {
    CHECK(got.packets[static_cast<std::size_t>(i)].ts_ns == 1'000'000'000LL + i * 1000);
    CHECK(got.packets[static_cast<std::size_t>(i)].data == frame(80, std::to_string(i)));
  }
}

TEST_CASE("pcap source: a BPF filter keeps only matching packets", "[capture][pcap]") {
  test::TempDir dir;
  for (const std::uint32_t magic : {0xa1b2c3d4u, 0xa1b2cd34u}) {  // mapped, and libpcap's reader
    CAPTURE(magic);
    write_file(dir.file("f.pcap"), pcap_bytes({.magic = magic}, sample_records()));
    const Got got = read_all({dir.file("f.pcap")}, "tcp dst port 80");
    REQUIRE_FALSE(got.error);
    CHECK(got.packets.size() == 2);
  }
}

TEST_CASE("pcap source: packets longer than the snaplen are cut to it", "[capture][pcap]") {
  test::TempDir dir;
  auto records = sample_records();
  write_file(dir.file("f.pcap"), pcap_bytes({.snaplen = 40}, records));
  const Got got = read_all({dir.file("f.pcap")});
  REQUIRE(got.packets.size() == 3);
  CHECK(got.packets[0].data == Bytes(records[0].data.begin(), records[0].data.begin() + 40));
  CHECK(got.packets[0].wire_length == records[0].data.size());
}

TEST_CASE("pcap source: files and packets larger than the read buffer are read whole",
          "[capture][pcap]") {
  test::TempDir dir;
  // 20 MiB of packets, each filled with its own number: records straddle every buffer boundary,
  // and two (2 MiB, then 300 KiB) are larger than the buffer itself.
  std::vector<Rec> records;
  for (std::uint32_t i = 0; i < 14'000; ++i) {
    Bytes data(i == 7'000 ? 2u << 20 : i == 7'001 ? 300u << 10 : 1400 + i % 200);
    for (std::size_t j = 0; j + 4 <= data.size(); j += 4) std::memcpy(&data[j], &i, 4);
    records.push_back({1'000'000'000LL + i * 1000LL, std::move(data)});
  }
  write_file(dir.file("big.pcap"), pcap_bytes({.snaplen = 4u << 20}, records));
  const Got got = read_all({dir.file("big.pcap")});
  REQUIRE_FALSE(got.error);
  REQUIRE(got.packets.size() == records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (got.packets[i].data != records[i].data || got.packets[i].ts_ns != records[i].ts_ns) FAIL("packet " << i << " differs");
  }
}

TEST_CASE("pcap source: a cut-off file hands out every whole packet, then names file and byte",
          "[capture][pcap]") {
  test::TempDir dir;
  const auto records = sample_records();
  const Bytes whole = pcap_bytes({}, records);
  const std::size_t last = whole.size() - records.back().data.size() - 16;  // last record's header
  SECTION("inside a packet") {
    write_file(dir.file("cut.pcap"), Bytes(whole.begin(), whole.end() - 5));
    const Got got = read_all({dir.file("cut.pcap")});
    CHECK(got.packets.size() == 2);
    REQUIRE(got.error);
    CHECK_THAT(*got.error, Catch::Contains("cut.pcap") &&
                               Catch::Contains("at byte " + std::to_string(last)) &&
                               Catch::Contains("cut off"));
  }
  SECTION("inside a packet header") {
    write_file(dir.file("cut.pcap"), Bytes(whole.begin(), whole.begin() + static_cast<long>(last) + 7));
    const Got got = read_all({dir.file("cut.pcap")});
    CHECK(got.packets.size() == 2);
    REQUIRE(got.error);
    CHECK_THAT(*got.error, Catch::Contains("at byte " + std::to_string(last)));
  }
  SECTION("a corrupt length") {
    Bytes bad = whole;
    const std::uint32_t huge = 0x7fffffff;
    std::memcpy(&bad[last + 8], &huge, 4);
    write_file(dir.file("cut.pcap"), bad);
    const Got got = read_all({dir.file("cut.pcap")});
    CHECK(got.packets.size() == 2);
    REQUIRE(got.error);
    CHECK_THAT(*got.error, Catch::Contains("corrupt"));
  }
}

TEST_CASE("pcap source: a cut-off file that libpcap reads (pcapng or a modified pcap) hands out "
          "every whole packet then names file and byte",
          "[capture][pcap]") {
  test::TempDir dir;
  const auto records = sample_records();
  const auto check = [&](const Bytes& cut, const std::string& name, std::size_t last) {
    write_file(dir.file(name), cut);
    const Got got = read_all({dir.file(name)});
    REQUIRE(got.packets.size() == 2);
    CHECK(got.packets[1].ts_ns == records[1].ts_ns);
    REQUIRE(got.error);
    CHECK_THAT(*got.error, Catch::Contains(name) &&
                               Catch::Contains("at byte " + std::to_string(last) + ":") &&
                               Catch::Contains("truncated"));
  };
  std::vector<std::size_t> block_at;
  const Bytes pcapng = pcapng_bytes(records, &block_at);
  SECTION("pcapng, inside a packet") {
    check(Bytes(pcapng.begin(), pcapng.end() - 9), "cut.pcapng", block_at.back());
  }
  SECTION("pcapng, inside a block header") {
    check(Bytes(pcapng.begin(), pcapng.begin() + static_cast<long>(block_at.back()) + 5),
          "cut.pcapng", block_at.back());
  }
  SECTION("a modified pcap (24-byte record headers), inside a packet") {
    const Bytes whole = pcap_bytes({.magic = 0xa1b2cd34}, records);
    check(Bytes(whole.begin(), whole.end() - 5), "cut.pcap",
          whole.size() - records.back().data.size() - 24);
  }
}

TEST_CASE("pcap source: pcapng files are read with their timestamps", "[capture][pcap]") {
  test::TempDir dir;
  const auto records = sample_records();
  write_file(dir.file("f.pcapng"), pcapng_bytes(records));
  const Got got = read_all({dir.file("f.pcapng")});
  REQUIRE_FALSE(got.error);
  REQUIRE(got.packets.size() == records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(got.packets[i].ts_ns == records[i].ts_ns);
    CHECK(got.packets[i].data == records[i].data);
  }
}

// A live device without nanosecond timestamps (libpcap refuses PCAP_TSTAMP_PRECISION_NANO) gives
// microseconds in tv_usec; this machine's loopback gives nanoseconds, so the conversion is checked
// on its own.
TEST_CASE("pcap source: a timestamp in microseconds is scaled to nanoseconds and one in nanoseconds "
          "is kept",
          "[capture][pcap]") {
  CHECK(unix_ns(1'700'000'000, 123'456, TimestampUnit::Microsecond) == 1'700'000'000'123'456'000);
  CHECK(unix_ns(1'700'000'000, 999'999, TimestampUnit::Microsecond) == 1'700'000'000'999'999'000);
  CHECK(unix_ns(1'700'000'000, 123'456'789, TimestampUnit::Nanosecond) == 1'700'000'000'123'456'789);
  // A 64-bit pcapng timestamp past the year 2262 saturates (it overflowed: undefined behaviour).
  CHECK(unix_ns(34'000'000'000, 0, TimestampUnit::Nanosecond) == INT64_MAX);
  CHECK(unix_ns(-34'000'000'000, 0, TimestampUnit::Nanosecond) == INT64_MIN);
  CHECK(unix_ns(9'223'362'000, 4'294'967'295, TimestampUnit::Microsecond) > 0);
}

TEST_CASE("pcap source: standard input can be given only once", "[capture][pcap]") {
  test::TempDir dir;
  write_file(dir.file("f.pcap"), pcap_bytes({}, sample_records()));
  auto source = PcapSource::open_files({"-", dir.file("f.pcap"), "-"}, "");
  REQUIRE_FALSE(source);
  CHECK_THAT(source.error().message(), Catch::Contains("only once"));
}

TEST_CASE("pcap source: a file that is not a capture is refused by name", "[capture][pcap]") {
  test::TempDir dir;
  write_file(dir.file("notes.txt"), test::bytes("these are not packets, just some text"));
  auto source = PcapSource::open_files({dir.file("notes.txt")}, "");
  REQUIRE_FALSE(source);
  CHECK_THAT(source.error().message(), Catch::Contains("notes.txt"));
}

}  // namespace reprise::capture
