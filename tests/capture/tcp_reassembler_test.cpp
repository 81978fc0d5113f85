#include "reprise/capture/tcp_reassembler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "capture/packet_builder.hpp"
#include "capture/recording_sink.hpp"
#include "reprise/capture/error.hpp"

using namespace reprise;
using capture::CloseReason;
using capture::Direction;
using capture::IpEndpoint;
using capture::RoleSource;
using capture::TcpReassembler;
using capture::TcpSegment;
using Events = std::vector<std::string>;

namespace {

constexpr std::uint8_t SYN = capture::tcp_flag::kSyn;
constexpr std::uint8_t ACK = capture::tcp_flag::kAck;
constexpr std::uint8_t FIN = capture::tcp_flag::kFin;
constexpr std::uint8_t RST = capture::tcp_flag::kRst;
constexpr std::uint8_t PSH = capture::tcp_flag::kPsh;

// Builds segments between one client and one server; keeps their payloads alive.
class Wire {
 public:
  explicit Wire(IpEndpoint client = test::endpoint("10.0.0.1", 40000),
                IpEndpoint server = test::endpoint("10.0.0.2", 80))
      : client_(client), server_(server) {}

  TcpSegment c(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::string_view payload,
               std::int64_t ts) {
    return make(client_, server_, seq, ack, flags, payload, ts);
  }
  TcpSegment s(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::string_view payload,
               std::int64_t ts) {
    return make(server_, client_, seq, ack, flags, payload, ts);
  }
  // A segment whose capture kept only the first `captured` bytes of `payload`.
  TcpSegment cut(TcpSegment seg, std::size_t captured) {
    seg.payload = seg.payload.first(captured);
    seg.snaplen_cut = true;
    return seg;
  }

  const IpEndpoint& client() const { return client_; }
  const IpEndpoint& server() const { return server_; }

 private:
  TcpSegment make(const IpEndpoint& src, const IpEndpoint& dst, std::uint32_t seq,
                  std::uint32_t ack, std::uint8_t flags, std::string_view payload,
                  std::int64_t ts) {
    const std::string& p = keep_.emplace_back(payload);
    TcpSegment seg;
    seg.src = src;
    seg.dst = dst;
    seg.seq = seq;
    seg.ack = ack;
    seg.flags = flags;
    seg.payload = std::span(reinterpret_cast<const std::uint8_t*>(p.data()), p.size());
    seg.payload_length = static_cast<std::uint32_t>(p.size());
    seg.ts_ns = ts;
    return seg;
  }

  IpEndpoint client_;
  IpEndpoint server_;
  std::deque<std::string> keep_;
};

// Client ISN 100 (data from 101), server ISN 500 (data from 501), at times 1, 2, 3.
void handshake(TcpReassembler& r, Wire& w) {
  r.add(w.c(100, 0, SYN, "", 1));
  r.add(w.s(500, 101, SYN | ACK, "", 2));
  r.add(w.c(101, 501, ACK, "", 3));
}

TcpReassembler::Options small_options() {
  TcpReassembler::Options o;
  o.idle_timeout_ns = 100;
  o.closed_timeout_ns = 50;
  return o;
}

}  // namespace

TEST_CASE("A handshake, an exchange and FIN/FIN give ordered events", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK | PSH, "GET / HTTP/1.1\r\n\r\n", 10));  // 18 bytes
  r.add(w.s(501, 119, ACK | PSH, "HTTP/1.1 200 OK\r\n\r\n", 20));  // 19 bytes
  r.add(w.c(119, 520, ACK | FIN, "", 30));
  r.add(w.s(520, 120, ACK | FIN, "", 40));
  r.add(w.c(120, 521, ACK, "", 50));  // the last ACK comes after the close

  REQUIRE(f.sinks.size() == 1);
  const auto& conn = *f.sinks[0];
  CHECK(conn.events == Events{"C:GET / HTTP/1.1\r\n\r\n@10", "S:HTTP/1.1 200 OK\r\n\r\n@20",
                              "C:fin@30", "S:fin@40", "close:Fin@40"});
  CHECK(conn.info.connection_id == 1);
  CHECK(conn.info.client == w.client());
  CHECK(conn.info.server == w.server());
  CHECK(conn.info.role_source == RoleSource::Syn);
  CHECK(conn.info.syn_seen);
  CHECK(conn.info.first_ns == 1);
  CHECK(conn.released);

  const auto& st = r.stats();
  CHECK(st.segments == 8);
  CHECK(st.flows_opened == 1);
  CHECK(st.flows_closed_fin == 1);
  CHECK(st.roles_from_syn == 1);
  CHECK(st.delivered_bytes == 37);
  CHECK(st.gaps == 0);
  CHECK(st.segments_after_close == 1);
  CHECK(r.open_flows() == 0);
  CHECK(r.tracked_flows() == 1);  // remembered as closed
}

TEST_CASE("Both directions are one connection, ids follow first packets", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire a(test::endpoint("10.0.0.1", 40000), test::endpoint("10.0.0.2", 80));
  Wire b(test::endpoint("10.0.0.3", 40000), test::endpoint("10.0.0.2", 80));
  r.add(a.c(100, 0, SYN, "", 1));
  r.add(b.c(700, 0, SYN, "", 2));
  r.add(b.s(900, 701, SYN | ACK, "", 3));
  r.add(a.s(500, 101, SYN | ACK, "", 4));
  CHECK(r.open_flows() == 2);
  CHECK(f.connection(1).info.client == a.client());
  CHECK(f.connection(2).info.client == b.client());
  CHECK(r.stats().flows_opened == 2);
}

TEST_CASE("Out-of-order segments are released in order at the filling packet's time", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(104, 501, ACK, "BBB", 20));
  r.add(w.c(107, 501, ACK, "CCC", 30));
  CHECK(f.sinks[0]->events.empty());
  r.add(w.c(101, 501, ACK, "AAA", 40));
  CHECK(f.sinks[0]->events == Events{"C:AAA@40", "C:BBB@40", "C:CCC@40"});
  CHECK(r.stats().out_of_order_segments == 1);  // only the one that opened a hole
  CHECK(r.stats().gaps == 0);
}

TEST_CASE("Retransmissions are dropped and counted", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "AAAA", 10));
  r.add(w.c(101, 501, ACK, "AAAA", 11));  // delivered already
  r.add(w.c(109, 501, ACK, "CCCC", 12));
  r.add(w.c(109, 501, ACK, "CCCC", 13));  // buffered already
  r.add(w.c(99, 501, ACK, "xxAA", 14));   // partly before the stream: the SYN's and older
  r.add(w.c(105, 501, ACK, "BBBB", 15));
  CHECK(f.sinks[0]->client_bytes == "AAAABBBBCCCC");
  const auto& st = r.stats();
  CHECK(st.retransmitted_segments == 3);
  CHECK(st.retransmitted_bytes == 4 + 4 + 2);
  CHECK(st.bytes_before_start == 2);
  CHECK(st.conflicting_overlaps == 0);
}

TEST_CASE("Overlaps keep the first copy and count conflicting bytes", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "AA", 10));
  r.add(w.c(105, 501, ACK, "CCCC", 20));  // hole 103..104
  r.add(w.c(103, 501, ACK, "BBXX", 30));  // fills the hole; XX conflicts with CC
  r.add(w.c(111, 501, ACK, "EE", 40));    // hole 109..110
  r.add(w.c(109, 501, ACK, "DDEE", 50));  // agrees with the buffered EE
  CHECK(f.sinks[0]->client_bytes == "AABBCCCCDDEE");
  CHECK(f.sinks[0]->events ==
        Events{"C:AA@10", "C:BB@30", "C:CCCC@30", "C:DD@50", "C:EE@50"});
  const auto& st = r.stats();
  CHECK(st.conflicting_overlaps == 1);
  CHECK(st.conflicting_bytes == 2);
  CHECK(st.retransmitted_bytes == 4);
}

TEST_CASE("Sequence numbers wrap at 2^32", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  r.add(w.c(0xFFFFFFF9u, 0, SYN, "", 1));
  r.add(w.s(500, 0xFFFFFFFAu, SYN | ACK, "", 2));
  r.add(w.c(0xFFFFFFFAu, 501, ACK, "0123456789", 10));  // 6 bytes before the wrap, 4 after
  r.add(w.c(0x00000009u, 501, ACK, "KLMNO", 20));       // out of order, after the wrap
  r.add(w.c(0x00000004u, 501, ACK, "FGHIJ", 30));
  r.add(w.c(0xFFFFFFFEu, 501, ACK, "6789F", 40));       // retransmission across the wrap
  r.add(w.c(0x00000013u, 501, ACK, "zz", 50));           // hole 0x0E..0x12
  r.add(w.s(501, 0x00000013u, ACK, "", 60));             // the server has the hole's bytes
  r.add(w.c(0x00000015u, 501, ACK | FIN, "", 70));
  const auto& conn = *f.sinks[0];
  CHECK(conn.client_bytes == "0123456789FGHIJKLMNOzz");
  CHECK(conn.events == Events{"C:0123456789@10", "C:FGHIJ@30", "C:KLMNO@30", "C:gap(5)@50",
                              "C:zz@50", "C:fin@70"});
  CHECK(r.stats().retransmitted_bytes == 5);
}

TEST_CASE("A lost segment becomes a gap once the peer acknowledges past it", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "AAAA", 10));
  r.add(w.c(109, 501, ACK, "CCCC", 20));  // 105..108 never captured
  CHECK(f.sinks[0]->events == Events{"C:AAAA@10"});

  SECTION("an ACK past the whole hole") {
    r.add(w.s(501, 113, ACK, "", 30));
    // The gap and the data after it keep the data's own time: the receiver had them then.
    CHECK(f.sinks[0]->events == Events{"C:AAAA@10", "C:gap(4)@20", "C:CCCC@20"});
  }
  SECTION("an ACK into the hole gives up only what it proves lost") {
    r.add(w.s(501, 107, ACK, "", 30));
    CHECK(f.sinks[0]->events == Events{"C:AAAA@10", "C:gap(2)@30"});
    r.add(w.c(107, 501, ACK, "bb", 40));
    CHECK(f.sinks[0]->events == Events{"C:AAAA@10", "C:gap(2)@30", "C:bb@40", "C:CCCC@40"});
  }
  CHECK(r.stats().gap_bytes + r.stats().delivered_bytes == 12);
}

TEST_CASE("A full out-of-order buffer gives up its first hole", "[tcp]") {
  test::RecordingFactory f;
  auto o = small_options();

  SECTION("byte limit") {
    o.max_out_of_order_bytes = 8;
    TcpReassembler r(f, o);
    Wire w;
    handshake(r, w);
    r.add(w.c(101, 501, ACK, "AA", 10));
    r.add(w.c(105, 501, ACK, "BBBBB", 20));  // 5 buffered
    CHECK(f.sinks[0]->events.size() == 1);
    r.add(w.c(110, 501, ACK, "CCCCC", 30));  // 10 > 8
    CHECK(f.sinks[0]->events == Events{"C:AA@10", "C:gap(2)@20", "C:BBBBB@20", "C:CCCCC@30"});
    CHECK(r.stats().out_of_order_limit_hits == 1);
    r.add(w.c(103, 501, ACK, "xx", 40));  // too late: counted, not delivered
    CHECK(r.stats().retransmitted_bytes == 2);
    CHECK(f.sinks[0]->client_bytes == "AABBBBBCCCCC");
  }
  SECTION("segment limit") {
    o.max_out_of_order_segments = 2;
    TcpReassembler r(f, o);
    Wire w;
    handshake(r, w);
    r.add(w.c(101, 501, ACK, "A", 10));
    r.add(w.c(103, 501, ACK, "C", 20));
    r.add(w.c(105, 501, ACK, "E", 30));
    r.add(w.c(107, 501, ACK, "G", 40));  // three chunks > 2
    CHECK(f.sinks[0]->events == Events{"C:A@10", "C:gap(1)@20", "C:C@20"});
    CHECK(r.stats().out_of_order_limit_hits == 1);
  }
}

TEST_CASE("A segment cut by snaplen delivers what was captured and a gap", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);

  SECTION("in order") {
    r.add(w.cut(w.c(101, 501, ACK, "0123456789", 10), 5));
    r.add(w.c(111, 501, ACK, "after", 20));
    CHECK(f.sinks[0]->events == Events{"C:01234@10", "C:gap(5,snaplen)@10", "C:after@20"});
    CHECK(r.stats().truncated_segments == 1);
  }
  SECTION("out of order, the missing tail waits in the buffer") {
    r.add(w.cut(w.c(106, 501, ACK, "56789", 10), 2));
    r.add(w.c(101, 501, ACK, "01234", 20));
    CHECK(f.sinks[0]->events == Events{"C:01234@20", "C:56@20", "C:gap(3,snaplen)@20"});
  }
  SECTION("a full copy replaces the missing tail before it is reached") {
    r.add(w.cut(w.c(106, 501, ACK, "56789", 10), 2));
    r.add(w.c(106, 501, ACK, "56789", 15));
    r.add(w.c(101, 501, ACK, "01234", 20));
    CHECK(f.sinks[0]->client_bytes == "0123456789");
    CHECK(r.stats().gaps == 0);
    CHECK(r.stats().retransmitted_bytes == 2);
  }
}

TEST_CASE("A hole before a FIN is given up when the FIN is acknowledged", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "AAAA", 10));
  r.add(w.c(109, 501, ACK | FIN, "CCCC", 20));
  r.add(w.s(501, 114, ACK, "", 30));
  CHECK(f.sinks[0]->events == Events{"C:AAAA@10", "C:gap(4)@20", "C:CCCC@20", "C:fin@20"});
}

TEST_CASE("A hole with nothing after it is reported at the end, from the peer's ACK", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "AAAA", 10));

  SECTION("an ACK one past the data acknowledges a FIN the capture missed") {
    r.add(w.s(501, 106, ACK, "", 20));
    r.finish(1000);
    CHECK(f.sinks[0]->events == Events{"C:AAAA@10", "close:EndOfInput@20"});
  }
  SECTION("an ACK further on proves lost data") {
    r.add(w.s(501, 110, ACK, "", 20));
    CHECK(f.sinks[0]->events == Events{"C:AAAA@10"});  // may still come: wait
    r.finish(1000);
    CHECK(f.sinks[0]->events == Events{"C:AAAA@10", "C:gap(5)@20", "close:EndOfInput@20"});
  }
  SECTION("a FIN seen after the hole bounds it exactly") {
    r.add(w.c(110, 501, ACK | FIN, "", 20));
    r.finish(1000);
    CHECK(f.sinks[0]->events ==
          Events{"C:AAAA@10", "C:gap(5)@20", "C:fin@20", "close:EndOfInput@20"});
  }
}

TEST_CASE("RST delivers what is buffered, with its gaps, then closes", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "AAAA", 10));
  r.add(w.c(109, 501, ACK, "CCCC", 20));
  r.add(w.s(501, 105, RST | ACK, "", 30));
  r.add(w.s(501, 105, ACK, "late", 40));
  CHECK(f.sinks[0]->events ==
        Events{"C:AAAA@10", "C:gap(4)@20", "C:CCCC@20", "close:Reset@30"});
  CHECK(r.stats().flows_closed_reset == 1);
  CHECK(r.stats().segments_after_close == 1);
  CHECK(r.stats().bytes_after_close == 4);
}

TEST_CASE("After a half-close the other direction goes on", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK | FIN, "GET / HTTP/1.0\r\n\r\n", 10));  // 18 bytes, FIN at 119
  r.add(w.s(501, 120, ACK, "HTTP/1.0 200 OK\r\n\r\nbody", 20));
  r.add(w.c(119, 501, ACK, "late", 25));  // beyond the FIN
  r.add(w.s(524, 120, ACK | FIN, "", 30));
  CHECK(f.sinks[0]->events == Events{"C:GET / HTTP/1.0\r\n\r\n@10", "C:fin@10",
                                     "S:HTTP/1.0 200 OK\r\n\r\nbody@20", "S:fin@30",
                                     "close:Fin@30"});
  CHECK(r.stats().bytes_after_fin == 4);
}

TEST_CASE("Without a SYN the request line marks the client, whatever the ports", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  // The client is on the lower port: only the payload can tell.
  Wire w(test::endpoint("10.0.0.1", 80), test::endpoint("10.0.0.2", 50000));
  r.add(w.s(9000, 1000, ACK, "", 5));  // a bare ACK opens the flow but says nothing
  CHECK(f.sinks.empty());
  r.add(w.c(1000, 9000, ACK | PSH, "GET /x HTTP/1.1\r\n\r\n", 10));
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->info.client == w.client());
  CHECK(f.sinks[0]->info.role_source == RoleSource::Payload);
  CHECK_FALSE(f.sinks[0]->info.syn_seen);
  CHECK(f.sinks[0]->info.first_ns == 5);
  r.add(w.s(9000, 1019, ACK, "HTTP/1.1 204 No Content\r\n\r\n", 20));
  CHECK(f.sinks[0]->events ==
        Events{"C:GET /x HTTP/1.1\r\n\r\n@10", "S:HTTP/1.1 204 No Content\r\n\r\n@20"});
  CHECK(r.stats().roles_from_payload == 1);
}

TEST_CASE("Without a SYN a status line marks the server", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w(test::endpoint("10.0.0.1", 8080), test::endpoint("10.0.0.2", 3000));
  r.add(w.s(9000, 1000, ACK, "HTTP/1.1 200 OK\r\n", 10));
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->info.server == w.server());
  CHECK(f.sinks[0]->info.role_source == RoleSource::Payload);
  CHECK(f.sinks[0]->events == Events{"S:HTTP/1.1 200 OK\r\n@10"});
}

TEST_CASE("Without SYN or HTTP the lower port is the server", "[tcp]") {
  test::RecordingFactory f;
  auto o = small_options();
  o.max_out_of_order_bytes = 16;
  TcpReassembler r(f, o);
  Wire w(test::endpoint("10.0.0.1", 40000), test::endpoint("10.0.0.2", 443));

  SECTION("decided when both sides have spoken; the client's bytes come first") {
    r.add(w.s(9000, 1000, ACK, "\x16\x03\x03srv", 10));
    CHECK(f.sinks.empty());  // one side said nothing useful: wait for the other
    r.add(w.c(1000, 9006, ACK, "\x16\x03\x01" "cli", 20));
    REQUIRE(f.sinks.size() == 1);
    CHECK(f.sinks[0]->info.server == w.server());
    CHECK(f.sinks[0]->info.role_source == RoleSource::Port);
    CHECK(f.sinks[0]->events == Events{"C:\x16\x03\x01" "cli@20", "S:\x16\x03\x03srv@10"});
  }
  SECTION("decided by a FIN") {
    r.add(w.s(9000, 1000, ACK | FIN, "bye", 10));
    REQUIRE(f.sinks.size() == 1);
    CHECK(f.sinks[0]->info.role_source == RoleSource::Port);
    CHECK(f.sinks[0]->events == Events{"S:bye@10", "S:fin@10"});
  }
  SECTION("decided when the buffer fills") {
    r.add(w.s(9000, 1000, ACK, "0123456789", 10));
    CHECK(f.sinks.empty());
    r.add(w.s(9010, 1000, ACK, "0123456789", 20));
    REQUIRE(f.sinks.size() == 1);
    CHECK(f.sinks[0]->events == Events{"S:0123456789@10", "S:0123456789@20"});
    CHECK(r.stats().out_of_order_limit_hits == 0);  // in order: nothing given up
  }
  SECTION("a request line cut by the segment end counts for a known method") {
    r.add(w.c(1000, 9000, ACK, "GET /a/very/long/pa", 10));
    REQUIRE(f.sinks.size() == 1);
    CHECK(f.sinks[0]->info.role_source == RoleSource::Payload);
  }
  SECTION("but not for an unknown one") {
    r.add(w.c(1000, 9000, ACK, "BREW /pot", 10));
    CHECK(f.sinks.empty());
  }
}

TEST_CASE("A SYN+ACK without its SYN still fixes roles and the client's start", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  r.add(w.s(500, 101, SYN | ACK, "", 2));
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->info.client == w.client());
  CHECK(f.sinks[0]->info.role_source == RoleSource::Syn);
  r.add(w.c(105, 501, ACK, "BBBB", 3));  // waits for 101..104
  CHECK(f.sinks[0]->events.empty());
  r.add(w.c(101, 501, ACK, "AAAA", 5));
  CHECK(f.sinks[0]->events == Events{"C:AAAA@5", "C:BBBB@5"});
}

TEST_CASE("A mid-stream start skips a keep-alive probe the peer acknowledged", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  r.add(w.s(9000, 1000, ACK, "", 1));     // the server has everything up to 1000
  r.add(w.c(999, 9000, ACK, "x", 2));     // keep-alive probe: one old byte
  r.add(w.c(1000, 9000, ACK, "GET / HTTP/1.1\r\n\r\n", 3));
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->events == Events{"C:GET / HTTP/1.1\r\n\r\n@3"});
  CHECK(r.stats().bytes_before_start == 1);
}

TEST_CASE("Idle flows expire on packet time", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f, small_options());  // idle timeout 100
  Wire a(test::endpoint("10.0.0.1", 40001), test::endpoint("10.0.0.2", 80));
  Wire b(test::endpoint("10.0.0.1", 40002), test::endpoint("10.0.0.2", 80));
  r.add(a.c(100, 0, SYN, "", 0));
  r.add(a.c(101, 0, ACK, "GET", 10));
  r.add(b.c(700, 0, SYN, "", 105));  // 95 after a's last packet: a stays
  CHECK(r.open_flows() == 2);
  r.add(b.c(701, 0, ACK, "x", 110));  // 100 after: a expires, at its last packet's time
  CHECK(r.open_flows() == 1);
  CHECK(f.connection(1).events == Events{"C:GET@10", "close:IdleExpired@10"});

  r.expire(209);
  CHECK(r.open_flows() == 1);
  r.expire(210);
  CHECK(r.open_flows() == 0);
  CHECK(f.connection(2).events.back() == "close:IdleExpired@110");
  CHECK(r.stats().flows_closed_idle == 2);

  // Expired flows are forgotten: the next packet starts a new connection, mid-stream.
  r.add(a.c(104, 0, ACK, "GET / HTTP/1.1\r\n", 400));
  CHECK(f.connection(3).info.client == a.client());
  CHECK_FALSE(f.connection(3).info.syn_seen);
}

TEST_CASE("A full flow table evicts the least recently used flow", "[tcp]") {
  test::RecordingFactory f;
  auto o = small_options();
  o.max_flows = 2;
  o.idle_timeout_ns = 1'000'000;
  TcpReassembler r(f, o);
  Wire a(test::endpoint("10.0.0.1", 40001), test::endpoint("10.0.0.2", 80));
  Wire b(test::endpoint("10.0.0.1", 40002), test::endpoint("10.0.0.2", 80));
  Wire c(test::endpoint("10.0.0.1", 40003), test::endpoint("10.0.0.2", 80));
  r.add(a.c(100, 0, SYN, "", 1));
  r.add(b.c(200, 0, SYN, "", 2));
  r.add(a.c(101, 0, ACK, "", 3));  // a is now more recent than b
  r.add(c.c(300, 0, SYN, "", 4));
  CHECK(f.connection(2).events == Events{"close:Evicted@2"});
  CHECK_FALSE(f.connection(1).closed);
  CHECK(r.stats().flow_limit_hits == 1);
  CHECK(r.stats().flows_closed_evicted == 1);
  CHECK(r.tracked_flows() == 2);
}

TEST_CASE("A new SYN on a closed 4-tuple is a new connection", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f, small_options());
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK | FIN, "", 10));
  r.add(w.s(501, 102, ACK | FIN, "", 11));
  REQUIRE(f.connection(1).closed);
  r.add(w.c(101, 501, ACK | FIN, "", 12));  // retransmitted FIN
  r.add(w.c(100, 0, SYN, "", 13));          // retransmitted old SYN
  CHECK(r.stats().segments_after_close == 2);
  CHECK(f.sinks.size() == 1);

  r.add(w.c(7000, 0, SYN, "", 20));  // same ports, new ISN
  r.add(w.s(8000, 7001, SYN | ACK, "", 21));
  r.add(w.c(7001, 8001, ACK, "again", 22));
  REQUIRE(f.sinks.size() == 2);
  CHECK(f.connection(2).info.role_source == RoleSource::Syn);
  CHECK(f.connection(2).events == Events{"C:again@22"});
}

TEST_CASE("A closed 4-tuple is forgotten after closed_timeout", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f, small_options());  // closed timeout 50
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, RST, "", 10));
  CHECK(r.tracked_flows() == 1);
  r.expire(59);
  CHECK(r.tracked_flows() == 1);
  r.expire(60);
  CHECK(r.tracked_flows() == 0);
}

TEST_CASE("A SYN with a new ISN on a flow that carried data supersedes it", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  r.add(w.c(1000, 9000, ACK, "GET / HTTP/1.1\r\n", 5));
  r.add(w.c(4000, 0, SYN, "", 6));
  CHECK(f.connection(1).events.back() == "close:IdleExpired@5");
  CHECK(r.stats().flows_superseded == 1);
  CHECK(f.connection(2).info.role_source == RoleSource::Syn);
  CHECK(r.open_flows() == 1);
}

TEST_CASE("finish drains and closes every open connection", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire a(test::endpoint("10.0.0.1", 40001), test::endpoint("10.0.0.2", 80));
  Wire b(test::endpoint("10.0.0.1", 40002), test::endpoint("10.0.0.2", 80));
  handshake(r, a);
  handshake(r, b);
  r.add(a.c(105, 501, ACK, "later", 10));  // 101..104 missing
  r.add(b.s(501, 101, ACK, "HTTP/1.1", 11));
  r.finish(5000);
  CHECK(f.connection(1).events == Events{"C:gap(4)@10", "C:later@10", "close:EndOfInput@10"});
  CHECK(f.connection(2).events == Events{"S:HTTP/1.1@11", "close:EndOfInput@11"});
  CHECK(r.stats().flows_closed_end_of_input == 2);
  CHECK(r.tracked_flows() == 0);
  CHECK(f.connection(1).released);
}

TEST_CASE("A RST for an unknown flow creates no connection", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w;
  r.add(w.s(0, 101, RST | ACK, "", 1));
  CHECK(f.sinks.empty());
  CHECK(r.tracked_flows() == 0);
  CHECK(r.stats().rst_without_flow == 1);
  CHECK(r.stats().flows_opened == 0);
}

TEST_CASE("IPv6 connections carry IPv6 endpoints", "[tcp]") {
  test::RecordingFactory f;
  TcpReassembler r(f);
  Wire w(test::endpoint("2001:db8::1", 40000), test::endpoint("2001:db8::2", 80));
  handshake(r, w);
  r.add(w.c(101, 501, ACK, "hi", 10));
  REQUIRE(f.sinks.size() == 1);
  CHECK(f.sinks[0]->info.client.family == 6);
  CHECK(f.sinks[0]->info.client == w.client());
  CHECK(f.sinks[0]->client_bytes == "hi");
}

TEST_CASE("Connections the factory declines are tracked but silent", "[tcp]") {
  struct Declining final : capture::StreamSinkFactory {
    capture::StreamSink* open(const capture::ConnectionInfo&) override {
      ++opened;
      return nullptr;
    }
    void release(capture::StreamSink*) override { throw std::logic_error("not opened"); }
    int opened = 0;
  } f;
  TcpReassembler r(f);
  Wire w;
  handshake(r, w);
  r.add(w.c(101, 501, ACK | FIN, "x", 10));
  r.add(w.s(501, 103, ACK | FIN, "", 11));
  r.add(w.c(103, 502, ACK, "", 12));
  CHECK(f.opened == 1);
  CHECK(r.stats().flows_closed_fin == 1);
  CHECK(r.stats().segments_after_close == 1);
}

TEST_CASE("Options are validated", "[tcp]") {
  test::RecordingFactory f;
  auto o = small_options();
  CHECK(o.validate().ok());
  o.max_flows = 0;
  REQUIRE_FALSE(o.validate().ok());
  CHECK(o.validate().error().code == capture::errc::bad_option);
  CHECK_THROWS_AS(TcpReassembler(f, o), std::invalid_argument);
  o = small_options();
  o.idle_timeout_ns = 0;
  CHECK_FALSE(o.validate().ok());
}

// Reassembly grind: a long stream cut into random segments, reordered within a window,
// duplicated and re-segmented, sometimes with segments lost, around a random ISN (often just
// below 2^32). Whatever the order, the delivered bytes and gaps must rebuild the stream exactly.
namespace {

struct Piece {
  bool gap = false;
  std::string bytes;
  std::uint64_t missing = 0;
  std::int64_t ts = 0;
};

class PieceSink final : public capture::StreamSink, public capture::StreamSinkFactory {
 public:
  void on_data(Direction, std::span<const std::uint8_t> b, std::int64_t ts) override {
    pieces.push_back({false, std::string(b.begin(), b.end()), 0, ts});
  }
  void on_gap(Direction, std::uint64_t n, std::int64_t ts, capture::GapCause) override {
    pieces.push_back({true, {}, n, ts});
  }
  void on_half_close(Direction, std::int64_t) override {}
  void on_close(CloseReason r, std::int64_t) override { reason = r; }
  capture::StreamSink* open(const capture::ConnectionInfo&) override { return this; }
  void release(capture::StreamSink*) override {}

  std::vector<Piece> pieces;
  CloseReason reason = CloseReason::Fin;
};

}  // namespace

TEST_CASE("Reassembly grind: reordering, duplicates, overlaps, losses, wrap-around", "[tcp]") {
  const std::size_t n = 6000;
  std::string original(n, ' ');
  for (std::size_t i = 0; i < n; ++i) original[i] = static_cast<char>('A' + (i * 7 + i / 13) % 26);

  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    const bool lossy = seed % 2 == 0;
    const std::uint32_t isn =
        seed % 3 == 0 ? static_cast<std::uint32_t>(rng())
                      : 0xFFFFFFFFu - static_cast<std::uint32_t>(rng() % 3000);

    struct Seg { std::size_t off, len; };
    std::vector<Seg> segs;
    for (std::size_t off = 0; off < n;) {
      const std::size_t len = std::min<std::size_t>(1 + rng() % 300, n - off);
      segs.push_back({off, len});
      off += len;
    }
    std::vector<bool> lost(n, false);
    if (lossy) {
      for (std::size_t i = 0; i + 1 < segs.size(); ++i) {  // never the last: its end is known
        if (rng() % 12 == 0) {
          for (std::size_t k = 0; k < segs[i].len; ++k) lost[segs[i].off + k] = true;
        }
      }
    }
    // Retransmissions over random ranges (same bytes, other boundaries).
    const std::size_t extra = segs.size() / 4;
    for (std::size_t i = 0; i < extra; ++i) {
      const std::size_t off = rng() % n;
      segs.push_back({off, std::min<std::size_t>(1 + rng() % 400, n - off)});
    }
    // Shuffle within a window of 8.
    std::vector<Seg> order = segs;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const std::size_t j = std::min(order.size() - 1, i + rng() % 8);
      std::swap(order[i], order[j]);
    }

    PieceSink sink;
    TcpReassembler r(sink);
    Wire w;
    std::int64_t ts = 0;
    r.add(w.c(isn, 0, SYN, "", ++ts));
    r.add(w.s(77, isn + 1, SYN | ACK, "", ++ts));
    for (const Seg& s : order) {
      // A segment survives only as the bytes not lost; a lost range drops every copy of it.
      std::size_t k = s.off;
      const std::size_t end = s.off + s.len;
      while (k < end) {
        if (lost[k]) {
          ++k;
          continue;
        }
        std::size_t e = k;
        while (e < end && !lost[e]) ++e;
        r.add(w.c(isn + 1 + static_cast<std::uint32_t>(k), 78, ACK,
                  std::string_view(original).substr(k, e - k), ++ts));
        k = e;
      }
    }
    r.add(w.s(78, isn + 1 + static_cast<std::uint32_t>(n), ACK, "", ++ts));
    r.finish(ts + 1);

    std::string rebuilt;
    std::int64_t last_ts = 0;
    for (const Piece& p : sink.pieces) {
      REQUIRE(p.ts >= last_ts);  // never decreasing within a direction
      last_ts = p.ts;
      if (p.gap) {
        for (std::uint64_t i = 0; i < p.missing; ++i) {
          REQUIRE(rebuilt.size() < n);
          REQUIRE(lost[rebuilt.size()]);
          rebuilt.push_back('\0');
        }
      } else {
        REQUIRE(rebuilt.size() + p.bytes.size() <= n);
        REQUIRE(p.bytes == original.substr(rebuilt.size(), p.bytes.size()));
        rebuilt += p.bytes;
      }
    }
    REQUIRE(rebuilt.size() == n);
    for (std::size_t i = 0; i < n; ++i) REQUIRE((rebuilt[i] == '\0') == lost[i]);
    CHECK(r.stats().conflicting_overlaps == 0);
    if (!lossy) CHECK(r.stats().gaps == 0);
  }
}
