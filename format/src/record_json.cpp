#include "reprise/format/record_json.hpp"

#include <string_view>

namespace reprise::format {
namespace {

using nlohmann::json;

std::string_view view(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view{} : std::string_view(s->data(), s->size());
}

std::span<const std::uint8_t> bytes_of(const flatbuffers::Vector<std::uint8_t>* v) {
  return v == nullptr ? std::span<const std::uint8_t>{} : std::span(v->data(), v->size());
}

json headers_json(const flatbuffers::Vector<flatbuffers::Offset<fb::Header>>* headers) {
  json out = json::array();
  if (headers == nullptr) return out;
  for (const auto* h : *headers) out.push_back(json::array({view(h->name()), view(h->value())}));
  return out;
}

void put_body(json& j, const flatbuffers::Vector<std::uint8_t>* body, std::uint64_t size,
              const JsonOptions& options) {
  j["body_size"] = size;
  if (!options.bodies || body == nullptr || body->size() == 0) return;
  const auto b = bytes_of(body);
  if (is_utf8(b))
    j["body"] = std::string(reinterpret_cast<const char*>(b.data()), b.size());
  else
    j["body_base64"] = base64(b);
}

std::string version_text(std::uint8_t v) { return std::to_string(v / 10) + "." + std::to_string(v % 10); }

}  // namespace

bool is_utf8(std::span<const std::uint8_t> s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      // Control characters other than tab, CR and LF make a body binary for our purposes.
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1Fu; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0Fu; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07u; }
    else return false;
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    static constexpr std::uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string base64(std::span<const std::uint8_t> b) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < b.size()) {
    std::uint32_t v = std::uint32_t{b[i]} << 16;
    if (i + 1 < b.size()) v |= std::uint32_t{b[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < b.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

json flag_names(fb::ExchangeFlags flags) {
  static constexpr std::pair<fb::ExchangeFlags, const char*> kNames[] = {
      {fb::ExchangeFlags::RequestBodyTruncated, "request_body_truncated"},
      {fb::ExchangeFlags::ResponseBodyTruncated, "response_body_truncated"},
      {fb::ExchangeFlags::NoResponse, "no_response"},
      {fb::ExchangeFlags::Gap, "gap"},
      {fb::ExchangeFlags::ParseError, "parse_error"},
      {fb::ExchangeFlags::Redacted, "redacted"},
      {fb::ExchangeFlags::Upgrade, "upgrade"},
      {fb::ExchangeFlags::ResponseIncomplete, "response_incomplete"},
      {fb::ExchangeFlags::SnaplenTruncated, "snaplen_truncated"},
      {fb::ExchangeFlags::RequestIncomplete, "request_incomplete"},
      {fb::ExchangeFlags::NoRequest, "no_request"},
      {fb::ExchangeFlags::Late, "late"},
  };
  json out = json::array();
  for (const auto& [bit, name] : kNames)
    if ((flags & bit) == bit) out.push_back(name);
  return out;
}

const char* error_kind_name(fb::ErrorKind kind) {
  switch (kind) {
    case fb::ErrorKind::None: return "none";
    case fb::ErrorKind::Connect: return "connect";
    case fb::ErrorKind::Timeout: return "timeout";
    case fb::ErrorKind::Reset: return "reset";
    case fb::ErrorKind::Protocol: return "protocol";
    case fb::ErrorKind::Shed: return "shed";
    case fb::ErrorKind::Aborted: return "aborted";
  }
  return "unknown";
}

json to_json(const fb::Exchange& e, const JsonOptions& options) {
  json j;
  j["id"] = e.id();
  j["session"] = e.session_id();
  j["connection"] = e.connection_id();
  j["index"] = e.connection_index();
  if (e.client() != nullptr) j["client"] = endpoint_to_string(*e.client());
  if (e.server() != nullptr) j["server"] = endpoint_to_string(*e.server());
  j["request_first_ns"] = e.request_first_ns();
  j["request_last_ns"] = e.request_last_ns();
  j["response_first_ns"] = e.response_first_ns();
  j["response_last_ns"] = e.response_last_ns();
  j["flags"] = flag_names(e.flags());
  if (const auto* rq = e.request(); rq != nullptr) {
    json r;
    r["method"] = view(rq->method());
    r["target"] = view(rq->target());
    r["version"] = version_text(rq->version());
    r["headers"] = headers_json(rq->headers());
    if (rq->trailers() != nullptr) r["trailers"] = headers_json(rq->trailers());
    put_body(r, rq->body(), rq->body_size(), options);
    j["request"] = std::move(r);
  }
  if (const auto* rs = e.response(); rs != nullptr) {
    json r;
    r["status"] = rs->status();
    r["reason"] = view(rs->reason());
    r["version"] = version_text(rs->version());
    r["headers"] = headers_json(rs->headers());
    if (rs->trailers() != nullptr) r["trailers"] = headers_json(rs->trailers());
    put_body(r, rs->body(), rs->body_size(), options);
    j["response"] = std::move(r);
  }
  return j;
}

json to_json(const fb::Outcome& o, const JsonOptions& options) {
  json j;
  j["exchange"] = o.exchange_id();
  j["clone"] = o.clone();
  j["iteration"] = o.iteration();
  j["session"] = o.session_id();
  if (o.method() != nullptr) j["method"] = view(o.method());
  if (o.target() != nullptr) j["target"] = view(o.target());
  j["intended_ns"] = o.intended_ns();
  j["sent_ns"] = o.sent_ns();
  j["first_byte_ns"] = o.first_byte_ns();
  j["done_ns"] = o.done_ns();
  j["status"] = o.status();
  j["error"] = error_kind_name(o.error());
  j["bytes_sent"] = o.bytes_sent();
  j["bytes_received"] = o.bytes_received();
  j["response_digest"] = o.response_digest();
  j["connection_reused"] = o.connection_reused();
  if (o.response_headers() != nullptr) j["response_headers"] = headers_json(o.response_headers());
  if (options.bodies && o.response_body() != nullptr && o.response_body()->size() > 0) {
    const auto b = bytes_of(o.response_body());
    if (is_utf8(b))
      j["response_body"] = std::string(reinterpret_cast<const char*>(b.data()), b.size());
    else
      j["response_body_base64"] = base64(b);
  }
  return j;
}

json to_json(const fb::FileHeader& h) {
  json j;
  j["kind"] = h.kind() == fb::FileKind::Trace ? "trace" : "run";
  j["format_version"] = std::to_string(h.format_major()) + "." + std::to_string(h.format_minor());
  j["tool_version"] = view(h.tool_version());
  j["created_unix_ns"] = h.created_unix_ns();
  j["epoch_unix_ns"] = h.epoch_unix_ns();
  j["source"] = view(h.source());
  if (const auto* r = h.run(); r != nullptr) {
    json run;
    run["target"] = view(r->target());
    run["trace_digest"] = view(r->trace_digest());
    run["trace_path"] = view(r->trace_path());
    run["shard"] = std::to_string(r->shard_index()) + "/" + std::to_string(r->shard_count());
    run["plan"] = view(r->plan());
    j["run"] = std::move(run);
  }
  return j;
}

}  // namespace reprise::format
