#include "reprise/capture/trace_recorder.hpp"


#include <algorithm>
#include <array>

#include "reprise/capture/error.hpp"
#include "reprise/format/records.hpp"
#include "reprise/text.hpp"

namespace reprise::capture {
namespace {

namespace fb = format::fb;

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

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Header>>> build_headers(
    flatbuffers::FlatBufferBuilder& fbb, const HttpHeaders& headers) {
  // The offsets must all exist before the vector is started; up to kInline of them (most
  // messages) are kept on the stack rather than in a vector allocated per message.
  constexpr std::size_t kInline = 32;
  std::array<flatbuffers::Offset<fb::Header>, kInline> inline_offsets;
  std::vector<flatbuffers::Offset<fb::Header>> heap_offsets;
  flatbuffers::Offset<fb::Header>* out = inline_offsets.data();
  if (headers.size() > kInline) {
    heap_offsets.resize(headers.size());
    out = heap_offsets.data();
  }
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto& [k, v] = headers[i];
    out[i] = fb::CreateHeader(fbb, fbb.CreateString(k), fbb.CreateString(v));
  }
  return fbb.CreateVector(out, headers.size());
}

fb::Endpoint endpoint_of(const IpEndpoint& e) { return format::make_endpoint(e.address, e.port, e.family); }

}  // namespace

void build_exchange_record(flatbuffers::FlatBufferBuilder& fbb, const HttpExchange& x) {
  fbb.Clear();
  flatbuffers::Offset<fb::Request> request;
  if (x.has_request) {
    const auto& rq = x.request;
    auto method = fbb.CreateString(rq.method);
    auto target = fbb.CreateString(rq.target);
    auto headers = build_headers(fbb, rq.headers);
    auto body = rq.body.empty() ? 0 : fbb.CreateVector(rq.body);
    auto trailers = rq.trailers.empty() ? 0 : build_headers(fbb, rq.trailers);
    fb::RequestBuilder b(fbb);
    b.add_method(method);
    b.add_target(target);
    b.add_version(rq.version);
    b.add_headers(headers);
    if (!rq.body.empty()) b.add_body(body);
    b.add_body_size(rq.body_size);
    if (!rq.trailers.empty()) b.add_trailers(trailers);
    request = b.Finish();
  }
  flatbuffers::Offset<fb::Response> response;
  if (x.has_response()) {
    const auto& rs = x.response;
    auto reason = fbb.CreateString(rs.reason);
    auto headers = build_headers(fbb, rs.headers);
    auto body = rs.body.empty() ? 0 : fbb.CreateVector(rs.body);
    auto trailers = rs.trailers.empty() ? 0 : build_headers(fbb, rs.trailers);
    fb::ResponseBuilder b(fbb);
    b.add_status(rs.status);
    b.add_reason(reason);
    b.add_version(rs.version);
    b.add_headers(headers);
    if (!rs.body.empty()) b.add_body(body);
    b.add_body_size(rs.body_size);
    if (!rs.trailers.empty()) b.add_trailers(trailers);
    response = b.Finish();
  }
  std::uint32_t flags = static_cast<std::uint32_t>(x.flags);
  if (!x.has_request) flags |= static_cast<std::uint32_t>(fb::ExchangeFlags::NoRequest);
  const fb::Endpoint client = endpoint_of(x.client), server = endpoint_of(x.server);
  fbb.ForceDefaults(true);  // every scalar present: patch_exchange_record() rewrites some
  fb::ExchangeBuilder b(fbb);
  b.add_id(0);
  b.add_session_id(0);
  b.add_connection_id(x.connection_id);
  b.add_connection_index(x.connection_index);
  b.add_client(&client);
  b.add_server(&server);
  b.add_request_first_ns(x.request_first_ns);
  b.add_request_last_ns(x.request_last_ns);
  b.add_response_first_ns(x.response_first_ns);
  b.add_response_last_ns(x.response_last_ns);
  if (x.has_request) b.add_request(request);
  if (x.has_response()) b.add_response(response);
  b.add_flags(static_cast<fb::ExchangeFlags>(flags));
  const auto exchange = b.Finish();
  fbb.ForceDefaults(false);
  fbb.FinishSizePrefixed(exchange);
}

void patch_exchange_record(std::span<std::uint8_t> record, std::uint64_t id, std::uint64_t session_id,
                           std::int64_t request_first_ns, bool late) {
  auto* e = flatbuffers::GetMutableSizePrefixedRoot<fb::Exchange>(record.data());
  // Cannot fail on a record build_exchange_record() made: it stores every scalar.
  e->mutate_id(id);
  e->mutate_session_id(session_id);
  e->mutate_request_first_ns(request_first_ns);
  if (late) e->mutate_flags(e->flags() | fb::ExchangeFlags::Late);
}

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

Status TraceRecorder::write_oldest() { return write_one(*pop()); }

PreparedExchange TraceRecorder::prepare(HttpExchange&& x, flatbuffers::FlatBufferBuilder& fbb) const {
  PreparedExchange p;
  p.marks = sessions_.marks(x);
  p.start = x.request_first_ns;
  p.has_request = x.has_request;
  p.has_response = x.has_response();
  p.filtered = filtered(x);
  if (p.filtered == PreparedExchange::Filtered::No) {
    p.redacted = redact(x);
    if (p.redacted) x.flags |= ExchangeFlags::Redacted;
    build_exchange_record(fbb, x);
    const auto bytes = fbb.GetBufferSpan();
    p.record.assign(bytes.begin(), bytes.end());
  }
  p.bytes = approx_bytes(p);
  return p;
}

Status TraceRecorder::add(PreparedExchange&& p) {
  ++stats_.exchanges_in;
  const std::size_t bytes = p.bytes;
  const std::int64_t start = p.start;
  const Entry e{start, seq_++, new PreparedExchange(std::move(p))};
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
