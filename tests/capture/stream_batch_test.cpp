#include "reprise/capture/stream_batch.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "capture/packet_builder.hpp"
#include "capture/recording_sink.hpp"

using namespace reprise;
using capture::CloseReason;
using capture::ConnectionInfo;
using capture::Direction;
using capture::GapCause;
using capture::StreamBatch;
using capture::StreamBatcher;
using capture::StreamBatchPlayer;
using Events = std::vector<std::string>;

namespace {

ConnectionInfo connection(std::uint64_t id, std::int64_t first_ns) {
  ConnectionInfo info;
  info.connection_id = id;
  info.client = test::endpoint("10.0.0.1", static_cast<std::uint16_t>(40000 + id));
  info.server = test::endpoint("10.0.0.2", 80);
  info.first_ns = first_ns;
  return info;
}

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::size_t events_seen(const test::RecordingFactory& f) {
  std::size_t n = 0;
  for (const auto& s : f.sinks) n += s->events.size();
  return n;
}

}  // namespace

TEST_CASE("stream batches replay every call in order, across batches, with marks in place",
          "[capture][stream_batch]") {
  StreamBatcher batcher;
  test::RecordingFactory target;
  StreamBatchPlayer player(target);
  std::vector<std::pair<std::int64_t, std::size_t>> marks;  // (ts, events played before it)
  const StreamBatchPlayer::MarkFn on_mark = [&](std::int64_t ts) {
    marks.emplace_back(ts, events_seen(target));
  };
  // Plays what the batcher holds so far, as the capture's http thread would, and hands the
  // batcher an emptied batch.
  auto hand_off = [&] {
    StreamBatch b;
    std::swap(b, batcher.batch());
    player.play(b, on_mark);
  };

  capture::StreamSink* a = batcher.open(connection(1, 100));
  capture::StreamSink* b = batcher.open(connection(2, 110));
  a->on_data(Direction::ClientToServer, bytes("GET / HTTP/1.1\r\n"), 120);
  {
    // The reassembler's span is gone after the call: the batch holds its own copy.
    std::string transient = "\r\n";
    a->on_data(Direction::ClientToServer, bytes(transient), 121);
    transient = "XX";
  }
  b->on_gap(Direction::ServerToClient, 7, 130, GapCause::Snaplen);
  batcher.mark(130);
  CHECK(target.sinks.empty());  // nothing reaches the target before the hand-off
  hand_off();

  a->on_data(Direction::ServerToClient, bytes("HTTP/1.1 200 OK\r\n\r\n"), 140);
  a->on_half_close(Direction::ClientToServer, 150);
  a->on_close(CloseReason::Fin, 160);
  batcher.release(a);
  // The released number is reused: the player must open a new sink for it.
  capture::StreamSink* c = batcher.open(connection(3, 170));
  CHECK(c == a);
  c->on_data(Direction::ClientToServer, bytes("POST /x HTTP/1.1\r\n"), 180);
  b->on_close(CloseReason::Reset, 190);
  batcher.release(b);
  batcher.mark(190);
  hand_off();

  REQUIRE(target.sinks.size() == 3);
  CHECK(target.connection(1).events ==
        Events{"C:GET / HTTP/1.1\r\n@120", "C:\r\n@121", "S:HTTP/1.1 200 OK\r\n\r\n@140",
               "C:fin@150", "close:Fin@160"});
  CHECK(target.connection(1).released);
  CHECK(target.connection(2).events == Events{"S:gap(7,snaplen)@130", "close:Reset@190"});
  CHECK(target.connection(2).released);
  CHECK(target.connection(3).events == Events{"C:POST /x HTTP/1.1\r\n@180"});
  CHECK_FALSE(target.connection(3).released);
  CHECK(target.connection(3).info.client.port == 40003);
  CHECK(target.connection(3).info.first_ns == 170);
  // Each mark comes after exactly the calls made before it.
  CHECK(marks == std::vector<std::pair<std::int64_t, std::size_t>>{{130, 3}, {190, 8}});
}

TEST_CASE("a stream batch counts what it holds and keeps its capacity when cleared",
          "[capture][stream_batch]") {
  StreamBatcher batcher;
  capture::StreamSink* s = batcher.open(connection(1, 0));
  s->on_data(Direction::ClientToServer, bytes(std::string(1000, 'x')), 1);
  StreamBatch& b = batcher.batch();
  CHECK(b.events.size() == 2);
  CHECK(b.held_bytes() >= 1000);
  const std::size_t capacity = b.bytes.capacity();
  b.clear();
  CHECK(b.empty());
  CHECK(b.bytes.capacity() == capacity);
}
