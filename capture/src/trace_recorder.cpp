#include "reprise/capture/trace_recorder.hpp"

#include <algorithm>

#include "reprise/capture/error.hpp"
#include "reprise/capture/exchange_record.hpp"
#include "reprise/format/records.hpp"
#include "reprise/text.hpp"

namespace reprise::capture {
namespace {

std::size_t approx_bytes(const PreparedExchange& p) {
  std::size_t n = sizeof(PreparedExchange) + p.record.size();
  for (const auto& m : p.marks.request) n += m.size() + 32;
  for (const auto& m : p.marks.response) n += m.size() + 32;
  return n;
}

std::string redaction_of(std::string_view value) {
  const auto d = format::digest64(std::span(reinterpret_cast<const std::uint8_t*>(value.data()),
                                            value.size()));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(d));
  return std::string("redacted:") + hex;
}

bool redact_body(std::vector<std::uint8_t>& body, std::uint64_t& body_size,
                 const std::vector<std::regex>& patterns) {
  if (body.empty() || patterns.empty()) return false;
  std::string text(body.begin(), body.end());
  bool changed = false;
  for (const auto& re : patterns) {
    std::string out;
    auto begin = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
      if (it->length(0) == 0) continue;
      out.append(begin, (*it)[0].first);
      out += redaction_of(it->str(0));
      begin = (*it)[0].second;
      changed = true;
    }
    out.append(begin, text.cend());
    text.swap(out);
  }
  if (!changed) return false;
  // body_size counts bytes seen on the wire; keep what was not stored (a truncated tail).
  const std::uint64_t unstored = body_size > body.size() ? body_size - body.size() : 0;
  body.assign(text.begin(), text.end());
  body_size = body.size() + unstored;
  return true;
}

bool redact_headers(HttpHeaders& headers, const std::vector<std::string>& names) {
  if (names.empty()) return false;
  bool changed = false;
  for (auto& [name, value] : headers) {
    for (const auto& n : names) {
      if (!iequals(name, n)) continue;
      value = redaction_of(value);
      changed = true;
    }
  }
  return changed;
}

}  // namespace

TraceRecorder::TraceRecorder(format::Writer& writer, RecorderOptions options)
    : writer_(writer), options_(std::move(options)), sessions_(options_.session) {}

TraceRecorder::~TraceRecorder() {
  while (!held_empty()) pop();
}

const TraceRecorder::Entry& TraceRecorder::oldest() const {
  if (heap_.empty()) return in_order_.front();
  if (in_order_.empty()) return heap_.top();
  return Later()(in_order_.front(), heap_.top()) ? heap_.top() : in_order_.front();
}

std::unique_ptr<PreparedExchange> TraceRecorder::pop() {
  const Entry& e = oldest();
  std::unique_ptr<PreparedExchange> h(e.held);
  if (!in_order_.empty() && &e == &in_order_.front()) {
    in_order_.pop_front();
  } else {
    heap_.pop();
  }
  held_bytes_ -= h->bytes;
  return h;
}

Status TraceRecorder::write_oldest() {
  std::unique_ptr<PreparedExchange> p = pop();
  Status st = write_one(*p);
  const std::size_t capacity = p->record.capacity();
  if (capacity <= kMaxSpareRecordBytes && spare_bytes_ + capacity <= kMaxSpareBytes) {
    spare_bytes_ += capacity;
    spares_.push_back(std::move(p));
  }
  return st;
}

PreparedExchange TraceRecorder::prepare(HttpExchange&& x) const {
  PreparedExchange p;
  prepare(std::move(x), p);
  return p;
}

void TraceRecorder::prepare(HttpExchange&& x, PreparedExchange& p) const {
  p.marks = sessions_.marks(x);
  p.start = x.request_first_ns;
  p.has_request = x.has_request;
  p.has_response = x.has_response();
  p.filtered = filtered(x);
  p.redacted = false;
  if (p.filtered == PreparedExchange::Filtered::No) {
    p.redacted = redact(x);
    if (p.redacted) x.flags |= ExchangeFlags::Redacted;
    encode_exchange_record(x, p.record);
  } else {
    p.record.clear();
  }
  p.bytes = approx_bytes(p);
}

Status TraceRecorder::add(HttpExchange&& x) {
  std::unique_ptr<PreparedExchange> p;
  if (spares_.empty()) {
    p = std::make_unique<PreparedExchange>();
  } else {
    p = std::move(spares_.back());
    spares_.pop_back();
    spare_bytes_ -= p->record.capacity();
  }
  prepare(std::move(x), *p);
  return hold(std::move(p));
}

Status TraceRecorder::add(PreparedExchange&& p) {
  return hold(std::make_unique<PreparedExchange>(std::move(p)));
}

Status TraceRecorder::hold(std::unique_ptr<PreparedExchange> p) {
  ++stats_.exchanges_in;
  const std::size_t bytes = p->bytes;
  const std::int64_t start = p->start;
  const Entry e{start, seq_++, p.release()};
  if (in_order_.empty() || start >= in_order_.back().start) {
    in_order_.push_back(e);
  } else {
    heap_.push(e);
  }
  held_bytes_ += bytes;
  stats_.reorder_peak_bytes = std::max<std::uint64_t>(stats_.reorder_peak_bytes, held_bytes_);
  // Over the limit: write the oldest early rather than grow.
  while (held_bytes_ > options_.reorder_max_bytes && held_count() > 1) {
    ++stats_.forced_releases;
    if (Status st = write_oldest(); !st) return st;
  }
  return {};
}

Status TraceRecorder::release(std::int64_t watermark_ns) {
  while (!held_empty() && oldest().start < watermark_ns)
    if (Status st = write_oldest(); !st) return st;
  return {};
}

Status TraceRecorder::finish() {
  while (!held_empty())
    if (Status st = write_oldest(); !st) return st;
  return {};
}

PreparedExchange::Filtered TraceRecorder::filtered(const HttpExchange& x) const {
  using Filtered = PreparedExchange::Filtered;
  if (!options_.methods.empty() && x.has_request &&
      std::none_of(options_.methods.begin(), options_.methods.end(),
                   [&](const std::string& m) { return iequals(m, x.request.method); }))
    return Filtered::Method;
  if (!options_.hosts.empty()) {
    std::string_view host;
    for (const auto& [k, v] : x.request.headers)
      if (iequals(k, "Host")) host = v;
    if (const auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(']') == std::string_view::npos)
      host = host.substr(0, colon);
    if (std::none_of(options_.hosts.begin(), options_.hosts.end(),
                     [&](const std::string& h) { return iequals(h, host); }))
      return Filtered::Host;
  }
  if (options_.path && !std::regex_search(x.request.target, *options_.path)) return Filtered::Path;
  return Filtered::No;
}

bool TraceRecorder::redact(HttpExchange& x) const {
  bool changed = redact_headers(x.request.headers, options_.redact_headers);
  changed |= redact_headers(x.response.headers, options_.redact_headers);
  changed |= redact_body(x.request.body, x.request.body_size, options_.redact_body);
  changed |= redact_body(x.response.body, x.response.body_size, options_.redact_body);
  return changed;
}

Status TraceRecorder::write_one(PreparedExchange& p) {
  const std::uint64_t session = sessions_.assign(p.marks);
  if (options_.sample < 1.0) {
    // A session's fate depends only on its id and the seed: whole sessions are kept or dropped.
    const std::uint64_t h = format::digest64({}, session ^ (options_.sample_seed * 0x9E3779B97F4A7C15ull));
    if (static_cast<double>(h >> 11) * 0x1.0p-53 >= options_.sample) {
      ++stats_.sampled_out;
      return {};
    }
  }
  switch (p.filtered) {
    case PreparedExchange::Filtered::Method: ++stats_.filtered_method; return {};
    case PreparedExchange::Filtered::Host: ++stats_.filtered_host; return {};
    case PreparedExchange::Filtered::Path: ++stats_.filtered_path; return {};
    case PreparedExchange::Filtered::No: break;
  }
  if (options_.max_written != 0 && stats_.written >= options_.max_written) {
    ++stats_.beyond_max;
    return {};
  }
  if (p.redacted) ++stats_.redacted;
  const bool late = p.start < last_written_ns_;
  if (late) {
    p.start = last_written_ns_;
    ++stats_.late;
  }
  last_written_ns_ = p.start;
  if (!p.has_request) ++stats_.orphan_responses;
  if (!p.has_response) ++stats_.no_response;
  patch_exchange_record(p.record, next_id_++, session, p.start, late);
  Status st = writer_.append_record(p.record, {p.start, session, p.marks.connection_id});
  if (!st) return fail(errc::output_error, writer_.name(), st.error().message());
  ++stats_.written;
  return {};
}

}  // namespace reprise::capture
