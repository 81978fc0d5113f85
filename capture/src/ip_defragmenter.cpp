#include "reprise/capture/ip_defragmenter.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "reprise/capture/error.hpp"

namespace reprise::capture {
namespace {

// An IPv4 datagram is at most 65535 bytes with its header, an IPv6 payload at most 65535 bytes
// (jumbograms cannot be fragmented). One bound for both keeps a bogus offset from growing a
// datagram without end; it errs on the side of accepting.
constexpr std::uint64_t kMaxPayload = 65535;

// Bytes of [start, end) already in the merged range map.
std::uint64_t covered_bytes(const std::map<std::uint32_t, std::uint32_t>& ranges,
                            std::uint32_t start, std::uint32_t end) {
  std::uint64_t n = 0;
  auto it = ranges.upper_bound(start);
  if (it != ranges.begin()) --it;
  for (; it != ranges.end() && it->first < end; ++it) {
    const std::uint32_t s = std::max(it->first, start);
    const std::uint32_t e = std::min(it->second, end);
    if (s < e) n += e - s;
  }
  return n;
}

void add_range(std::map<std::uint32_t, std::uint32_t>& ranges, std::uint32_t start,
               std::uint32_t end) {
  if (start >= end) return;
  auto it = ranges.upper_bound(start);
  if (it != ranges.begin() && std::prev(it)->second >= start) {
    --it;
    start = it->first;
  }
  while (it != ranges.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = ranges.erase(it);
  }
  ranges.emplace(start, end);
}

}  // namespace

Status IpDefragmenter::Options::validate() const {
  if (max_datagrams == 0) return fail(errc::bad_option, "defrag", "max_datagrams must be > 0");
  if (max_bytes == 0) return fail(errc::bad_option, "defrag", "max_bytes must be > 0");
  if (timeout_ns <= 0) return fail(errc::bad_option, "defrag", "timeout must be > 0");
  return {};
}

IpDefragmenter::IpDefragmenter() : IpDefragmenter(Options{}) {}

IpDefragmenter::IpDefragmenter(Options options) : options_(options) {
  if (auto s = options_.validate(); !s) throw std::invalid_argument(s.error().message());
}

std::optional<ReassembledDatagram> IpDefragmenter::add(const IpFragment& f) {
  ++stats_.fragments;
  expire(f.ts_ns);

  const std::uint64_t end = std::uint64_t{f.offset} + f.length;
  // Every fragment but the last carries a multiple of 8 bytes (offsets count 8-byte units).
  if (end > kMaxPayload || (f.more && (f.length == 0 || f.length % 8 != 0))) {
    ++stats_.malformed_fragments;
    return std::nullopt;
  }

  const Key key{f.version, f.version == 4 ? f.protocol : std::uint8_t{0}, f.id, f.src, f.dst};
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    if (pending_.size() >= options_.max_datagrams) {
      ++stats_.limit_hits;
      evict_oldest();
    }
    it = pending_.emplace(key, Pending{}).first;
    it->second.first_ns = f.ts_ns;
    oldest_.push_back(it);
    it->second.age = std::prev(oldest_.end());
  }

  if (!store(it->second, f)) {
    ++stats_.malformed_fragments;
    drop(it, DropReason::Malformed);
    return std::nullopt;
  }
  ++it->second.fragments;

  // Dropping whole datagrams, oldest first, keeps the newest (most likely to complete) ones.
  while (bytes_held_ > options_.max_bytes) {
    const bool self = oldest_.front() == it;
    ++stats_.limit_hits;
    evict_oldest();
    if (self) return std::nullopt;
  }

  const Pending& p = it->second;
  const bool whole =
      p.total && ((*p.total == 0 && p.covered.empty()) ||
                  (p.covered.size() == 1 && p.covered.begin()->first == 0 &&
                   p.covered.begin()->second == *p.total));
  if (!whole) return std::nullopt;
  return complete(it, f);
}

bool IpDefragmenter::store(Pending& p, const IpFragment& f) {
  const std::uint32_t start = f.offset;
  const std::uint32_t end = f.offset + f.length;
  if (!f.more) {
    if (p.total && *p.total != end) return false;
    if (!p.covered.empty() && p.covered.rbegin()->second > end) return false;
    p.total = end;
  } else if (p.total && end > *p.total) {
    return false;
  }
  if (start == 0) p.protocol = f.protocol;

  if (covered_bytes(p.covered, start, end) > 0) ++stats_.overlapping_fragments;
  add_range(p.covered, start, end);

  const auto captured = f.data.first(std::min<std::size_t>(f.data.size(), f.length));
  if (captured.size() < f.length) p.cut = true;
  const std::uint32_t cap_end = start + static_cast<std::uint32_t>(captured.size());

  // Walk the pieces overlapping [start, cap_end): compare where both copies exist (the first one
  // stays), and copy in the stretches no piece holds yet.
  bool conflict = false;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fresh;
  std::uint32_t pos = start;
  auto it = p.pieces.upper_bound(start);
  if (it != p.pieces.begin() &&
      std::prev(it)->first + std::prev(it)->second.size() > start) {
    --it;
  }
  for (; pos < cap_end && it != p.pieces.end() && it->first < cap_end; ++it) {
    const std::uint32_t ps = it->first;
    const std::uint32_t pe = ps + static_cast<std::uint32_t>(it->second.size());
    if (ps > pos) fresh.emplace_back(pos, ps);
    const std::uint32_t os = std::max(ps, pos);
    const std::uint32_t oe = std::min(pe, cap_end);
    if (os < oe && !std::equal(captured.begin() + (os - start), captured.begin() + (oe - start),
                               it->second.begin() + (os - ps))) {
      conflict = true;
    }
    pos = std::max(pos, pe);
  }
  if (pos < cap_end) fresh.emplace_back(pos, cap_end);
  for (const auto& [s, e] : fresh) {
    p.pieces.emplace(s, std::vector<std::uint8_t>(captured.begin() + (s - start),
                                                   captured.begin() + (e - start)));
    p.held += e - s;
    bytes_held_ += e - s;
  }
  if (conflict) ++stats_.conflicting_overlaps;
  return true;
}

std::optional<ReassembledDatagram> IpDefragmenter::complete(Table::iterator it,
                                                            const IpFragment& last) {
  const Pending& p = it->second;
  out_.clear();
  out_.reserve(*p.total);
  // Only the captured prefix is usable: a hole left by a snaplen-cut fragment ends it.
  for (const auto& [start, bytes] : p.pieces) {
    if (start != out_.size()) break;
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }

  ReassembledDatagram d;
  d.version = it->first.version;
  d.src = it->first.src;
  d.dst = it->first.dst;
  d.protocol = p.protocol;
  d.data = out_;
  d.length = *p.total;
  d.ts_ns = last.ts_ns;

  ++stats_.datagrams_reassembled;
  if (out_.size() < *p.total) ++stats_.datagrams_truncated;
  bytes_held_ -= p.held;
  oldest_.erase(p.age);
  pending_.erase(it);
  return d;
}

void IpDefragmenter::drop(Table::iterator it, DropReason reason) {
  Pending& p = it->second;
  stats_.fragments_dropped += p.fragments;
  switch (reason) {
    case DropReason::TimedOut: ++stats_.datagrams_timed_out; break;
    case DropReason::Evicted: ++stats_.datagrams_evicted; break;
    case DropReason::Unfinished: ++stats_.datagrams_unfinished; break;
    case DropReason::Malformed: break;  // counted by the caller as a malformed fragment
  }
  bytes_held_ -= p.held;
  oldest_.erase(p.age);
  pending_.erase(it);
}

void IpDefragmenter::evict_oldest() {
  if (!oldest_.empty()) drop(oldest_.front(), DropReason::Evicted);
}

void IpDefragmenter::expire(std::int64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  while (!oldest_.empty() && now_ns_ - oldest_.front()->second.first_ns >= options_.timeout_ns) {
    drop(oldest_.front(), DropReason::TimedOut);
  }
}

void IpDefragmenter::finish() {
  while (!oldest_.empty()) drop(oldest_.front(), DropReason::Unfinished);
}

}  // namespace reprise::capture
