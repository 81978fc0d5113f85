#include "reprise/capture/tcp_reassembler.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "http_sniff.hpp"
#include "reprise/capture/error.hpp"
#include "tcp_stream.hpp"

namespace reprise::capture {
namespace {

// Stands in for a sink the factory declined: the flow is still tracked so that its packets are
// absorbed, but nothing is delivered.
class DiscardSink final : public StreamSink {
 public:
  void on_data(Direction, std::span<const std::uint8_t>, std::int64_t) override {}
  void on_gap(Direction, std::uint64_t, std::int64_t, GapCause) override {}
  void on_half_close(Direction, std::int64_t) override {}
  void on_close(CloseReason, std::int64_t) override {}
};

StreamSink& discard_sink() {
  static DiscardSink sink;
  return sink;
}

bool endpoint_less(const IpEndpoint& a, const IpEndpoint& b) {
  return std::tie(a.address, a.port) < std::tie(b.address, b.port);
}

// The server is on the lower (service) port; on a tie, the first packet went to the server.
int client_side_by_port(const std::array<IpEndpoint, 2>& endpoints, int first_side) {
  if (endpoints[0].port != endpoints[1].port) return endpoints[0].port < endpoints[1].port ? 1 : 0;
  return first_side;
}

}  // namespace

// Side 0 is the direction sent by key.address_a/port_a, side 1 the other.
struct TcpReassembler::Flow {
  Flow(TcpStream::Limits limits, TcpStats& stats)
      : streams{{TcpStream{limits, stats}, TcpStream{limits, stats}}} {}

  Direction direction(int side) const {
    return side == client_side ? Direction::ClientToServer : Direction::ServerToClient;
  }

  ConnectionInfo info;
  FlowKey key;
  std::array<IpEndpoint, 2> endpoints;  // the sender of each side
  std::array<TcpStream, 2> streams;
  int client_side = -1;                 // -1 until the roles are known
  int first_side = 0;                   // sender of the first packet
  StreamSink* sink = nullptr;           // set with the roles
  bool declined = false;                // the factory returned nullptr: sink is the discard sink
  bool closed = false;
  std::int64_t last_ns = 0;
  std::list<Flow*>::iterator lru;       // in active_ while open, in closed_ after
};

Status TcpReassembler::Options::validate() const {
  if (max_flows == 0) return fail(errc::bad_option, "tcp", "max_flows must be > 0");
  if (max_out_of_order_bytes == 0 || max_out_of_order_segments == 0) {
    return fail(errc::bad_option, "tcp", "out-of-order limits must be > 0");
  }
  if (idle_timeout_ns <= 0 || closed_timeout_ns <= 0) {
    return fail(errc::bad_option, "tcp", "timeouts must be > 0");
  }
  return {};
}

bool TcpReassembler::FlowKey::operator==(const FlowKey& o) const {
  static_assert(sizeof(FlowKey) == 36, "FlowKey has no padding: it is compared as bytes");
  std::array<std::uint64_t, 4> x, y;
  std::memcpy(x.data(), address_a.data(), 16);
  std::memcpy(x.data() + 2, address_b.data(), 16);
  std::memcpy(y.data(), o.address_a.data(), 16);
  std::memcpy(y.data() + 2, o.address_b.data(), 16);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0 &&
         port_a == o.port_a && port_b == o.port_b;
}

std::size_t TcpReassembler::FlowKeyHash::operator()(const FlowKey& key) const {
  // Runs for every packet: whole words through a multiply-xorshift mix, not a byte-wise hash.
  const auto word = [](const std::uint8_t* p) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
  };
  std::uint64_t h = 0x9E3779B97F4A7C15ull;
  const auto mix = [&h](std::uint64_t w) {
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  };
  mix(word(key.address_a.data()));
  mix(word(key.address_a.data() + 8));
  mix(word(key.address_b.data()));
  mix(word(key.address_b.data() + 8));
  mix((std::uint64_t{key.port_a} << 16) | key.port_b);
  return static_cast<std::size_t>(h);
}

TcpReassembler::TcpReassembler(StreamSinkFactory& sinks) : TcpReassembler(sinks, Options{}) {}

TcpReassembler::TcpReassembler(StreamSinkFactory& sinks, Options options)
    : sinks_(sinks), options_(options) {
  if (auto s = options_.validate(); !s) throw std::invalid_argument(s.error().message());
}

TcpReassembler::~TcpReassembler() {
  for (auto& [key, flow] : flows_) {
    if (flow->sink != nullptr && !flow->declined) sinks_.release(flow->sink);
  }
}

void TcpReassembler::add(const TcpSegment& seg) {
  ++stats_.segments;
  stats_.payload_bytes += seg.payload_length;
  expire(seg.ts_ns);

  const bool a_is_src = !endpoint_less(seg.dst, seg.src);
  const IpEndpoint& a = a_is_src ? seg.src : seg.dst;
  const IpEndpoint& b = a_is_src ? seg.dst : seg.src;
  const FlowKey key{a.address, b.address, a.port, b.port};
  const int side = a_is_src ? 0 : 1;
  const bool syn = seg.has(tcp_flag::kSyn);

  auto found = flows_.find(key);
  Flow* flow = found == flows_.end() ? nullptr : found->second.get();
  if (flow != nullptr && flow->closed) {
    // A SYN that is not a retransmission of this 4-tuple's last one opens a new connection.
    const TcpStream& me = flow->streams[static_cast<std::size_t>(side)];
    if (!syn || (me.syn_seen() && seg.seq == me.isn())) {
      ++stats_.segments_after_close;
      stats_.bytes_after_close += seg.payload_length;
      touch(*flow, seg.ts_ns);
      return;
    }
    forget(*flow);
    flow = nullptr;
  } else if (flow != nullptr && syn && starts_new_connection(*flow, side, seg)) {
    ++stats_.flows_superseded;
    close(*flow, CloseReason::IdleExpired, flow->last_ns);
    forget(*flow);
    flow = nullptr;
  }
  if (flow == nullptr) {
    if (seg.has(tcp_flag::kRst)) {
      ++stats_.rst_without_flow;
      stats_.bytes_after_close += seg.payload_length;
      return;
    }
    flow = &create(key, side, seg);
  }
  touch(*flow, seg.ts_ns);
  process(*flow, side, seg);
}

bool TcpReassembler::starts_new_connection(const Flow& flow, int side,
                                           const TcpSegment& seg) const {
  const TcpStream& me = flow.streams[static_cast<std::size_t>(side)];
  if (me.syn_seen()) return seg.seq != me.isn();
  return !me.pristine();
}

TcpReassembler::Flow& TcpReassembler::create(const FlowKey& key, int side, const TcpSegment& seg) {
  if (flows_.size() >= options_.max_flows) make_room();
  auto flow = std::make_unique<Flow>(
      TcpStream::Limits{options_.max_out_of_order_bytes, options_.max_out_of_order_segments},
      stats_);
  flow->info.connection_id = next_id_++;
  flow->info.first_ns = seg.ts_ns;
  flow->key = key;
  flow->first_side = side;
  flow->endpoints[static_cast<std::size_t>(side)] = seg.src;
  flow->endpoints[static_cast<std::size_t>(1 - side)] = seg.dst;
  flow->last_ns = seg.ts_ns;
  active_.push_front(flow.get());
  flow->lru = active_.begin();
  ++stats_.flows_opened;
  Flow& ref = *flow;
  flows_.emplace(key, std::move(flow));
  return ref;
}

void TcpReassembler::process(Flow& flow, int side, const TcpSegment& seg) {
  TcpStream& me = flow.streams[static_cast<std::size_t>(side)];
  TcpStream& peer = flow.streams[static_cast<std::size_t>(1 - side)];
  const bool syn = seg.has(tcp_flag::kSyn);
  const bool ack = seg.has(tcp_flag::kAck);
  const bool fin = seg.has(tcp_flag::kFin);
  const bool rst = seg.has(tcp_flag::kRst);
  const bool had_sink = flow.sink != nullptr;

  if (syn) {
    if (!me.syn_seen()) me.start_from_syn(seg.seq);
    // A SYN+ACK acknowledges the client's ISN + 1, even when the SYN itself was missed.
    if (ack && !peer.started()) peer.start_from_syn(seg.ack - 1);
    if (flow.client_side < 0) open(flow, ack ? 1 - side : side, RoleSource::Syn);
  } else if (!me.started() && (seg.payload_length > 0 || fin)) {
    me.start_mid_stream(seg.seq);
  }
  if (ack) {
    peer.add_peer_ack(seg.ack, seg.ts_ns);
    // The peer's bytes this ACK covers were sent before this segment: release them first.
    if (flow.sink != nullptr) peer.flush(*flow.sink, flow.direction(1 - side));
  }
  if (me.started()) {
    const std::uint32_t data_seq = seg.seq + (syn ? 1u : 0u);
    me.add_data(data_seq, seg.payload, seg.payload_length, seg.ts_ns, flow.sink,
                flow.direction(side));
    if (fin) me.add_fin(data_seq + seg.payload_length, seg.ts_ns);
  }

  if (flow.client_side < 0) {
    decide_from_payload(flow);
    if (flow.client_side < 0 && (fin || rst || me.over_limit() || peer.over_limit())) {
      open(flow, client_side_by_port(flow.endpoints, flow.first_side), RoleSource::Port);
    }
  }
  if (flow.sink == nullptr) return;
  const bool opened_now = !had_sink;
  if (rst) {
    close(flow, CloseReason::Reset, seg.ts_ns);
    return;
  }
  if (opened_now) {
    // Everything so far was buffered: requests first, so the assembler sees them before answers.
    const int c = flow.client_side;
    flow.streams[static_cast<std::size_t>(c)].flush(*flow.sink, Direction::ClientToServer);
    flow.streams[static_cast<std::size_t>(1 - c)].flush(*flow.sink, Direction::ServerToClient);
  } else {
    me.flush(*flow.sink, flow.direction(side));
  }
  if (me.half_closed() && peer.half_closed()) close(flow, CloseReason::Fin, seg.ts_ns);
}

void TcpReassembler::decide_from_payload(Flow& flow) {
  std::array<int, 2> order{0, 1};
  if (flow.streams[1].first_chunk_ts() < flow.streams[0].first_chunk_ts()) {
    std::swap(order[0], order[1]);
  }
  int inconclusive = 0;
  for (const int s : order) {
    const auto head = flow.streams[static_cast<std::size_t>(s)].first_bytes();
    if (head.empty()) continue;
    if (looks_like_http_request(head)) return open(flow, s, RoleSource::Payload);
    if (looks_like_http_response(head)) return open(flow, 1 - s, RoleSource::Payload);
    ++inconclusive;
  }
  if (inconclusive == 2) {
    open(flow, client_side_by_port(flow.endpoints, flow.first_side), RoleSource::Port);
  }
}

void TcpReassembler::open(Flow& flow, int client_side, RoleSource source) {
  flow.client_side = client_side;
  flow.info.client = flow.endpoints[static_cast<std::size_t>(client_side)];
  flow.info.server = flow.endpoints[static_cast<std::size_t>(1 - client_side)];
  flow.info.role_source = source;
  flow.info.syn_seen = flow.streams[0].syn_seen() || flow.streams[1].syn_seen();
  switch (source) {
    case RoleSource::Syn: ++stats_.roles_from_syn; break;
    case RoleSource::Payload: ++stats_.roles_from_payload; break;
    case RoleSource::Port: ++stats_.roles_from_port; break;
  }
  StreamSink* sink = sinks_.open(flow.info);
  flow.declined = sink == nullptr;
  flow.sink = sink != nullptr ? sink : &discard_sink();
}

void TcpReassembler::close(Flow& flow, CloseReason reason, std::int64_t ts_ns) {
  if (flow.client_side < 0) {
    decide_from_payload(flow);
    if (flow.client_side < 0) {
      open(flow, client_side_by_port(flow.endpoints, flow.first_side), RoleSource::Port);
    }
  }
  StreamSink& sink = *flow.sink;
  const auto c = static_cast<std::size_t>(flow.client_side);
  flow.streams[c].drain(sink, Direction::ClientToServer);
  flow.streams[1 - c].drain(sink, Direction::ServerToClient);
  sink.on_close(reason, ts_ns);
  if (!flow.declined) sinks_.release(&sink);
  flow.sink = nullptr;
  flow.streams[0].clear();
  flow.streams[1].clear();
  switch (reason) {
    case CloseReason::Fin: ++stats_.flows_closed_fin; break;
    case CloseReason::Reset: ++stats_.flows_closed_reset; break;
    case CloseReason::IdleExpired: ++stats_.flows_closed_idle; break;
    case CloseReason::Evicted: ++stats_.flows_closed_evicted; break;
    case CloseReason::EndOfInput: ++stats_.flows_closed_end_of_input; break;
  }
  // The 4-tuple stays known for closed_timeout, so late packets do not open a new connection.
  active_.erase(flow.lru);
  closed_.push_front(&flow);
  flow.lru = closed_.begin();
  flow.closed = true;
}

void TcpReassembler::forget(Flow& flow) {
  (flow.closed ? closed_ : active_).erase(flow.lru);
  const FlowKey key = flow.key;
  flows_.erase(key);  // destroys `flow`
}

void TcpReassembler::touch(Flow& flow, std::int64_t ts_ns) {
  flow.last_ns = std::max(flow.last_ns, ts_ns);
  auto& list = flow.closed ? closed_ : active_;
  list.splice(list.begin(), list, flow.lru);
}

void TcpReassembler::make_room() {
  if (!closed_.empty()) {
    forget(*closed_.back());
    return;
  }
  if (active_.empty()) return;
  ++stats_.flow_limit_hits;
  Flow& victim = *active_.back();
  close(victim, CloseReason::Evicted, victim.last_ns);
  forget(victim);
}

void TcpReassembler::expire(std::int64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  while (!active_.empty()) {
    Flow& flow = *active_.back();
    if (now_ns_ - flow.last_ns < options_.idle_timeout_ns) break;
    close(flow, CloseReason::IdleExpired, flow.last_ns);
    forget(flow);
  }
  while (!closed_.empty()) {
    Flow& flow = *closed_.back();
    if (now_ns_ - flow.last_ns < options_.closed_timeout_ns) break;
    forget(flow);
  }
}

void TcpReassembler::finish(std::int64_t now_ns) {
  expire(now_ns);
  std::vector<Flow*> open_flows(active_.begin(), active_.end());
  std::sort(open_flows.begin(), open_flows.end(), [](const Flow* x, const Flow* y) {
    return x->info.connection_id < y->info.connection_id;
  });
  for (Flow* flow : open_flows) {
    close(*flow, CloseReason::EndOfInput, flow->last_ns);
    forget(*flow);
  }
  while (!closed_.empty()) forget(*closed_.back());
}

}  // namespace reprise::capture
