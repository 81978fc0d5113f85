#include "reprise/replay/run_recorder.hpp"

#include <string_view>

namespace reprise::replay {

namespace fb = format::fb;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// "METHOD TARGET HTTP/1.1\r\n..." -> method and target ("" when the line is not of that shape).
void request_line(const std::string* wire, std::string& method, std::string& target) {
  method.clear();
  target.clear();
  if (wire == nullptr) return;
  const std::string_view w(*wire);
  const auto eol = w.find("\r\n");
  const std::string_view line = w.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return;
  method.assign(line.substr(0, sp1));
  target.assign(line.substr(sp1 + 1, sp2 - sp1 - 1));
}

std::unique_ptr<fb::LatencyHistogramT> histogram_record(const Histogram& h) {
  auto out = std::make_unique<fb::LatencyHistogramT>();
  for (const auto& [bucket, count] : h.nonzero()) {
    out->buckets.push_back(bucket);
    out->counts.push_back(count);
  }
  out->min_ns = h.min();
  out->max_ns = h.max();
  out->sum_ns = h.sum();
  return out;
}

void histogram_from(const fb::LatencyHistogram* r, Histogram& h) {
  if (r == nullptr || r->buckets() == nullptr || r->counts() == nullptr) return;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> pairs;
  const auto n = std::min(r->buckets()->size(), r->counts()->size());
  for (flatbuffers::uoffset_t i = 0; i < n; ++i)
    pairs.emplace_back(r->buckets()->Get(i), r->counts()->Get(i));
  h.add_nonzero(pairs, r->min_ns(), r->max_ns(), r->sum_ns());
}

template <typename Array, typename Vector>
void copy_counts(const Vector* from, Array& to) {
  if (from == nullptr) return;
  for (flatbuffers::uoffset_t i = 0; i < from->size() && i < to.size(); ++i) to[i] = from->Get(i);
}

}  // namespace

fb::IntervalT to_record(const IntervalStats& s) {
  fb::IntervalT r;
  r.start_ns = s.start_ns;
  r.duration_ns = s.duration_ns;
  r.outcomes = s.outcomes;
  r.sent = s.sent;
  r.failed = s.failed;
  r.status_classes.assign(s.status_classes.begin(), s.status_classes.end());
  r.errors.assign(s.errors.begin(), s.errors.end());
  r.bytes_sent = s.bytes_sent;
  r.bytes_received = s.bytes_received;
  r.corrected = histogram_record(s.corrected);
  r.service = histogram_record(s.service);
  r.lateness = histogram_record(s.lateness);
  return r;
}

IntervalStats from_record(const fb::Interval& i) {
  IntervalStats s;
  s.start_ns = i.start_ns();
  s.duration_ns = i.duration_ns();
  s.outcomes = i.outcomes();
  s.sent = i.sent();
  s.failed = i.failed();
  copy_counts(i.status_classes(), s.status_classes);
  copy_counts(i.errors(), s.errors);
  s.bytes_sent = i.bytes_sent();
  s.bytes_received = i.bytes_received();
  histogram_from(i.corrected(), s.corrected);
  histogram_from(i.service(), s.service);
  histogram_from(i.lateness(), s.lateness);
  return s;
}

RunRecorder::RunRecorder(format::Writer* writer, std::vector<AbortRule> rules)
    : writer_(writer), guard_(std::move(rules)) {}

Status RunRecorder::add(EngineOutcome&& o) {
  const std::int64_t second = o.facts.done_ns >= 0 ? o.facts.done_ns / kSecond : 0;
  auto& slot = open_[second];
  if (!slot) {
    slot = std::make_unique<IntervalStats>();
    slot->start_ns = second * kSecond;
    slot->duration_ns = kSecond;
  }
  slot->add(o.facts);
  totals_.add(o.facts);
  guard_.add(o.facts);
  if (writer_ == nullptr) return {};
  fb::OutcomeT& r = record_;
  r.exchange_id = o.exchange_id;
  r.clone = o.clone;
  r.iteration = o.iteration;
  r.session_id = o.session_id;
  r.intended_ns = o.facts.intended_ns;
  r.sent_ns = o.facts.sent_ns;
  r.first_byte_ns = o.facts.first_byte_ns;
  r.done_ns = o.facts.done_ns;
  r.status = o.facts.status;
  r.error = static_cast<fb::ErrorKind>(o.facts.error);
  r.bytes_sent = o.facts.bytes_sent;
  r.bytes_received = o.facts.bytes_received;
  r.response_digest = o.response_digest;
  r.connection_reused = o.connection_reused;
  r.correlation = static_cast<fb::CorrelationFlags>(o.correlation_flags);
  request_line(o.wire.get(), r.method, r.target);
  r.response_body = std::move(o.body);
  r.response_headers.clear();
  for (auto& [name, value] : o.headers) {
    auto h = std::make_unique<fb::HeaderT>();
    h->name = std::move(name);
    h->value = std::move(value);
    r.response_headers.push_back(std::move(h));
  }
  return writer_->append(r);
}

Status RunRecorder::write_interval(const IntervalStats& s) {
  last_second_ = s;
  if (writer_ == nullptr) return {};
  return writer_->append_interval(to_record(s));
}

Status RunRecorder::tick(std::int64_t now_ns, std::int64_t settle_ns) {
  while (!open_.empty()) {
    auto it = open_.begin();
    if (it->second->start_ns + it->second->duration_ns + settle_ns > now_ns) break;
    if (Status st = write_interval(*it->second); !st) return st;
    open_.erase(it);
  }
  return {};
}

Status RunRecorder::finish() {
  for (auto& [second, stats] : open_)
    if (Status st = write_interval(*stats); !st) return st;
  open_.clear();
  return {};
}

}  // namespace reprise::replay
