#include "tcp_stream.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace reprise::capture {
namespace {

// ACKs and mid-stream starts further ahead than this are not trusted: real windows stay far below
// 1 GiB, and a bogus ACK must not become a gigabyte gap.
constexpr std::int64_t kMaxAckAhead = std::int64_t{1} << 30;

}  // namespace

std::int64_t TcpStream::unwrap(std::uint32_t seq) const {
  const auto delta = static_cast<std::int32_t>(seq - static_cast<std::uint32_t>(next_));
  return next_ + delta;
}

void TcpStream::start_at(std::uint32_t first_byte, bool syn) {
  started_ = true;
  syn_seen_ = syn;
  half_closed_ = false;
  start_ = next_ = max_end_ = first_byte;
  pending_.clear();
  buffered_bytes_ = 0;
  fin_.reset();
  peer_ack_.reset();
}

void TcpStream::start_from_syn(std::uint32_t isn) {
  start_at(isn + 1, true);
  isn_ = isn;
}

void TcpStream::start_mid_stream(std::uint32_t seq) {
  std::uint32_t first = seq;
  if (early_peer_ack_) {
    const auto ahead = static_cast<std::int32_t>(*early_peer_ack_ - seq);
    if (ahead > 0 && ahead < kMaxAckAhead) first = *early_peer_ack_;
  }
  start_at(first, false);
}

void TcpStream::add_data(std::uint32_t seq, std::span<const std::uint8_t> captured,
                         std::uint32_t length, std::int64_t ts_ns, StreamSink* sink,
                         Direction dir) {
  if (length == 0) return;
  if (captured.size() > length) captured = captured.first(length);
  if (captured.size() < length) ++stats_->truncated_segments;
  std::int64_t s = unwrap(seq);
  std::int64_t e = s + length;
  const auto skip_to = [&](std::int64_t to) {
    captured = captured.subspan(static_cast<std::size_t>(
        std::min<std::int64_t>(to - s, static_cast<std::int64_t>(captured.size()))));
    s = to;
  };

  if (s < start_) {
    stats_->bytes_before_start += static_cast<std::uint64_t>(std::min(e, start_) - s);
    if (e <= start_) return;
    skip_to(start_);
  }
  if (s < next_) {
    stats_->retransmitted_bytes += static_cast<std::uint64_t>(std::min(e, next_) - s);
    if (e <= next_) {
      ++stats_->retransmitted_segments;
      return;
    }
    skip_to(next_);
  }
  if (fin_ && e > *fin_) {
    const std::int64_t end = std::max(s, *fin_);
    stats_->bytes_after_fin += static_cast<std::uint64_t>(e - end);
    e = end;
    if (s >= e) return;
    if (static_cast<std::int64_t>(captured.size()) > e - s) {
      captured = captured.first(static_cast<std::size_t>(e - s));
    }
  }
  if (s > max_end_) ++stats_->out_of_order_segments;
  max_end_ = std::max(max_end_, e);
  const std::int64_t cap_end = s + static_cast<std::int64_t>(captured.size());

  // In order with nothing waiting: deliver from the packet without copying.
  if (sink != nullptr && s == next_ && pending_.empty()) {
    if (!captured.empty()) emit_data(*sink, dir, captured, ts_ns);
    if (cap_end < e) emit_gap(*sink, dir, e - cap_end, ts_ns, GapCause::Snaplen);
    next_ = e;
    return;
  }
  std::int64_t stored = 0;
  if (cap_end > s) stored += insert(s, cap_end, captured.data(), false, ts_ns);
  if (e > cap_end) stored += insert(cap_end, e, nullptr, true, ts_ns);
  if (stored == 0) ++stats_->retransmitted_segments;
}

std::int64_t TcpStream::insert(std::int64_t a, std::int64_t b, const std::uint8_t* data,
                               bool missing, std::int64_t ts_ns) {
  // One pass over the chunks overlapping [a, b) collects what to store; the map is changed after.
  std::vector<std::pair<std::int64_t, std::int64_t>> fresh;
  std::vector<std::int64_t> replaced;  // placeholders that captured bytes now fill
  std::int64_t repeated = 0;
  std::int64_t differing = 0;
  std::int64_t pos = a;
  auto it = pending_.upper_bound(a);
  if (it != pending_.begin()) {
    const auto before = std::prev(it);
    if (before->first + before->second.length > a) it = before;
  }
  for (; pos < b && it != pending_.end() && it->first < b; ++it) {
    const Chunk& c = it->second;
    const std::int64_t cs = it->first;
    const std::int64_t os = std::max(cs, pos);
    const std::int64_t oe = std::min(cs + c.length, b);
    if (cs > pos) fresh.emplace_back(pos, cs);
    if (c.missing) {
      if (!missing) {
        replaced.push_back(cs);
        fresh.emplace_back(os, oe);
      }
    } else if (!missing) {
      repeated += oe - os;
      for (std::int64_t i = os; i < oe; ++i) {
        if (data[i - a] != c.bytes[static_cast<std::size_t>(i - cs)]) ++differing;
      }
    }
    pos = oe;
  }
  if (pos < b) fresh.emplace_back(pos, b);

  for (const std::int64_t key : replaced) {
    auto node = pending_.extract(key);
    const Chunk& old = node.mapped();
    if (key < a) pending_.emplace(key, Chunk{{}, a - key, true, old.ts_ns});
    if (key + old.length > b) pending_.emplace(b, Chunk{{}, key + old.length - b, true, old.ts_ns});
  }
  std::int64_t stored = 0;
  for (const auto& [s, e] : fresh) {
    Chunk c;
    c.length = e - s;
    c.missing = missing;
    c.ts_ns = ts_ns;
    if (!missing) {
      c.bytes.assign(data + (s - a), data + (e - a));
      buffered_bytes_ += c.bytes.size();
    }
    pending_.emplace(s, std::move(c));
    stored += e - s;
  }
  stats_->retransmitted_bytes += static_cast<std::uint64_t>(repeated);
  if (differing > 0) {
    ++stats_->conflicting_overlaps;
    stats_->conflicting_bytes += static_cast<std::uint64_t>(differing);
  }
  return stored;
}

void TcpStream::add_fin(std::uint32_t seq, std::int64_t ts_ns) {
  if (!started_ || fin_) return;
  const std::int64_t f = std::max(unwrap(seq), next_);
  fin_ = f;
  fin_ts_ = ts_ns;
  // Buffered data beyond the FIN can never be part of the stream.
  while (!pending_.empty()) {
    auto last = std::prev(pending_.end());
    Chunk& c = last->second;
    if (last->first + c.length <= f) break;
    const std::int64_t keep = std::max<std::int64_t>(f - last->first, 0);
    stats_->bytes_after_fin += static_cast<std::uint64_t>(c.length - keep);
    if (keep == 0) {
      buffered_bytes_ -= c.bytes.size();
      pending_.erase(last);
      continue;
    }
    if (!c.missing) {
      buffered_bytes_ -= c.bytes.size() - static_cast<std::size_t>(keep);
      c.bytes.resize(static_cast<std::size_t>(keep));
    }
    c.length = keep;
    break;
  }
}

void TcpStream::add_peer_ack(std::uint32_t ack, std::int64_t ts_ns) {
  if (!started_) {
    early_peer_ack_ = ack;
    return;
  }
  const std::int64_t a = unwrap(ack);
  if (a <= next_ || a - next_ > kMaxAckAhead) return;
  if (!peer_ack_ || a > *peer_ack_) {
    peer_ack_ = a;
    peer_ack_ts_ = ts_ns;
  }
}

void TcpStream::release(StreamSink& sink, Direction dir, bool give_up_all) {
  if (!started_) return;
  for (;;) {
    auto it = pending_.begin();
    if (it != pending_.end() && it->first == next_) {
      const Chunk& c = it->second;
      if (c.missing) {
        emit_gap(sink, dir, c.length, c.ts_ns, GapCause::Snaplen);  // only snaplen tails are held missing
      } else {
        buffered_bytes_ -= c.bytes.size();
        emit_data(sink, dir, c.bytes, c.ts_ns);
      }
      next_ += c.length;
      pending_.erase(it);
      continue;
    }
    // A hole from next_ up to the next thing known: a chunk, else the FIN.
    std::optional<std::int64_t> bound;
    std::int64_t bound_ts = 0;
    if (it != pending_.end()) {
      bound = it->first;
      bound_ts = it->second.ts_ns;
    } else if (fin_ && *fin_ > next_) {
      bound = *fin_;
      bound_ts = fin_ts_;
    }
    if (bound) {
      if (give_up_all || over_limit()) {
        if (!give_up_all) ++stats_->out_of_order_limit_hits;
        emit_gap(sink, dir, *bound - next_, bound_ts, GapCause::Lost);
        next_ = *bound;
        continue;
      }
      if (peer_ack_ && *peer_ack_ > next_) {
        const std::int64_t end = std::min(*peer_ack_, *bound);
        emit_gap(sink, dir, end - next_, end == *bound ? bound_ts : peer_ack_ts_, GapCause::Lost);
        next_ = end;
        continue;
      }
      break;
    }
    // Nothing known after next_. Only at the end is the peer's ACK taken as the end of the data;
    // an ACK one past next_ acknowledges a FIN the capture missed.
    if (give_up_all && !fin_ && peer_ack_ && *peer_ack_ > next_ + 1) {
      emit_gap(sink, dir, *peer_ack_ - next_, peer_ack_ts_, GapCause::Lost);
      next_ = *peer_ack_;
    }
    break;
  }
  if (fin_ && next_ >= *fin_ && !half_closed_) {
    half_closed_ = true;
    sink.on_half_close(dir, raise(fin_ts_));
  }
}

void TcpStream::emit_data(StreamSink& sink, Direction dir, std::span<const std::uint8_t> bytes,
                          std::int64_t ts_ns) {
  stats_->delivered_bytes += bytes.size();
  sink.on_data(dir, bytes, raise(ts_ns));
}

void TcpStream::emit_gap(StreamSink& sink, Direction dir, std::int64_t missing,
                         std::int64_t ts_ns, GapCause cause) {
  ++stats_->gaps;
  stats_->gap_bytes += static_cast<std::uint64_t>(missing);
  sink.on_gap(dir, static_cast<std::uint64_t>(missing), raise(ts_ns), cause);
}

std::int64_t TcpStream::raise(std::int64_t ts_ns) {
  last_ts_ = std::max(last_ts_, ts_ns);
  return last_ts_;
}

std::span<const std::uint8_t> TcpStream::first_bytes() const {
  if (!started_ || next_ != start_ || pending_.empty()) return {};
  const auto& [pos, chunk] = *pending_.begin();
  if (pos != start_ || chunk.missing) return {};
  return chunk.bytes;
}

std::int64_t TcpStream::first_chunk_ts() const {
  return pending_.empty() ? std::numeric_limits<std::int64_t>::max()
                          : pending_.begin()->second.ts_ns;
}

void TcpStream::clear() {
  pending_.clear();
  buffered_bytes_ = 0;
}

}  // namespace reprise::capture
