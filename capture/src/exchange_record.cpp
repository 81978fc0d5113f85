#include "reprise/capture/exchange_record.hpp"

#include <bit>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "reprise/format/frame.hpp"
#include "reprise/format/records.hpp"

// Layout of a record, offsets from its first byte (every table is followed by its children):
//
//   0   uint32 size of what follows          4   uoffset to the Exchange table
//   8   the vtables of Exchange, Request, Response and Header, one each
//   E   Exchange table (8-aligned), then the Request table and its children (method, target,
//       header vector, header tables, their strings, body, trailers), then the Response's.
//
// Field positions inside each table are fixed below; a vtable entry is 0 for an absent field.
// Alignment is counted from the record's first byte, as the verifier counts it, and the record
// is padded to 8 so that records laid end to end keep it.

namespace reprise::capture {
namespace {

namespace fb = format::fb;
using flatbuffers::soffset_t;
using flatbuffers::uoffset_t;
using flatbuffers::voffset_t;
using format::align_up;

static_assert(std::endian::native == std::endian::little,
              "scalars are stored in host order, and FlatBuffers are little-endian");
static_assert(sizeof(fb::Endpoint) == 24 && alignof(fb::Endpoint) == 8);

// Exchange table: soffset, then the fields at these offsets (in bytes from the table start).
namespace xt {
constexpr voffset_t kConnectionIndex = 4, kId = 8, kSession = 16, kConnection = 24, kClient = 32,
                    kServer = 56, kRequestFirst = 80, kRequestLast = 88, kResponseFirst = 96,
                    kResponseLast = 104, kRequest = 112, kResponse = 116, kFlags = 120, kSize = 124;
}  // namespace xt
// Request table.
namespace rq {
constexpr voffset_t kMethod = 4, kBodySize = 8, kTarget = 16, kHeaders = 20, kBody = 24,
                    kTrailers = 28, kVersion = 32, kSize = 33;
}  // namespace rq
// Response table.
namespace rs {
constexpr voffset_t kReason = 4, kBodySize = 8, kHeaders = 16, kBody = 20, kTrailers = 24,
                    kStatus = 28, kVersion = 30, kSize = 31;
}  // namespace rs
// Header table: soffset, name, value.
constexpr voffset_t kHeaderName = 4, kHeaderValue = 8, kHeaderSize = 12;

// Vtable sizes (two voffsets, then one per field) and where each vtable sits.
constexpr std::size_t kExchangeVtable = 8, kExchangeVtableBytes = 4 + 13 * 2;
constexpr std::size_t kRequestVtable = kExchangeVtable + kExchangeVtableBytes, kMessageVtableBytes = 4 + 7 * 2;
constexpr std::size_t kResponseVtable = kRequestVtable + kMessageVtableBytes;
constexpr std::size_t kHeaderVtable = kResponseVtable + kMessageVtableBytes, kHeaderVtableBytes = 4 + 2 * 2;
constexpr std::size_t kExchangeTable = align_up(kHeaderVtable + kHeaderVtableBytes, 8);

std::size_t string_bytes(std::size_t n) { return align_up(4 + n + 1, 4); }

std::size_t fields_bytes(const HttpHeaders& fields) {
  std::size_t n = 4 + fields.size() * (4 + kHeaderSize);
  for (const auto& [name, value] : fields) n += string_bytes(name.size()) + string_bytes(value.size());
  return n;
}

// Bytes a message table and its children take at most: 16 covers the table's alignment to 8 and
// the first string's to 4.
std::size_t message_bytes(std::size_t table, std::string_view line1, std::string_view line2,
                          const HttpHeaders& headers, const HttpHeaders& trailers,
                          std::size_t body) {
  return 16 + table + string_bytes(line1.size()) + string_bytes(line2.size()) +
         fields_bytes(headers) + fields_bytes(trailers) + align_up(4 + body, 4);
}

// A cursor over a zeroed buffer large enough for everything written: bytes skipped for
// alignment stay zero.
class Out {
 public:
  explicit Out(std::uint8_t* base) : base_(base) {}

  void skip_to(std::size_t pos) { pos_ = pos; }
  std::size_t align(std::size_t a) { return pos_ = align_up(pos_, a); }

  template <typename T>
  void put(std::size_t at, T v) { std::memcpy(base_ + at, &v, sizeof v); }

  // The uoffset at `slot` to `target` (target > slot: children follow their parents).
  void link(std::size_t slot, std::size_t target) {
    put<uoffset_t>(slot, static_cast<uoffset_t>(target - slot));
  }
  // A table's first field: the signed distance back to its vtable.
  void table_start(std::size_t table, std::size_t vtable) {
    put<soffset_t>(table, static_cast<soffset_t>(table - vtable));
  }
  void vtable(std::size_t at, std::initializer_list<voffset_t> entries) {
    for (voffset_t e : entries) {
      put<voffset_t>(at, e);
      at += sizeof e;
    }
  }

  // A string (length, bytes, NUL) or a byte vector (length, bytes), linked from `slot`.
  void string(std::size_t slot, std::string_view s) {
    link(slot, bytes(s.data(), s.size()));
    base_[pos_++] = 0;
  }
  void vector(std::size_t slot, const std::vector<std::uint8_t>& v) { link(slot, bytes(v.data(), v.size())); }

  // A vector of Header tables, linked from `slot`: the offsets, the tables, then their strings.
  void fields(std::size_t slot, const HttpHeaders& fields) {
    const std::size_t vec = align(4);
    link(slot, vec);
    put<uoffset_t>(vec, static_cast<uoffset_t>(fields.size()));
    const std::size_t tables = vec + 4 + 4 * fields.size();
    pos_ = tables + kHeaderSize * fields.size();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const std::size_t t = tables + kHeaderSize * i;
      link(vec + 4 + 4 * i, t);
      table_start(t, kHeaderVtable);
      string(t + kHeaderName, fields[i].first);
      string(t + kHeaderValue, fields[i].second);
    }
  }

 private:
  std::size_t bytes(const void* data, std::size_t n) {
    const std::size_t at = align(4);
    put<uoffset_t>(at, static_cast<uoffset_t>(n));
    copy(base_ + at + 4, static_cast<const std::uint8_t*>(data), n);
    pos_ = at + 4 + n;
    return at;
  }

  // Most strings of a record are header names and values of at most 16 bytes: those are
  // copied as two overlapping words (fixed-size copies, no call), the rest by memcpy.
  static void copy(std::uint8_t* to, const std::uint8_t* from, std::size_t n) {
    if (n >= 8 && n <= 16) {
      std::memcpy(to, from, 8);
      std::memcpy(to + n - 8, from + n - 8, 8);
    } else if (n >= 4 && n < 8) {
      std::memcpy(to, from, 4);
      std::memcpy(to + n - 4, from + n - 4, 4);
    } else if (n < 4) {
      for (std::size_t i = 0; i < n; ++i) to[i] = from[i];
    } else {
      std::memcpy(to, from, n);
    }
  }

  std::uint8_t* base_;
  std::size_t pos_ = 0;
};

voffset_t present(bool yes, voffset_t field) { return yes ? field : voffset_t{0}; }

// Each returns where its table starts, for the Exchange table's link to it.
std::size_t write_request(Out& o, const HttpRequest& r) {
  const std::size_t t = o.align(8);
  o.table_start(t, kRequestVtable);
  o.put<std::uint64_t>(t + rq::kBodySize, r.body_size);
  o.put<std::uint8_t>(t + rq::kVersion, r.version);
  o.skip_to(t + rq::kSize);
  o.string(t + rq::kMethod, r.method);
  o.string(t + rq::kTarget, r.target);
  o.fields(t + rq::kHeaders, r.headers);
  if (!r.body.empty()) o.vector(t + rq::kBody, r.body);
  if (!r.trailers.empty()) o.fields(t + rq::kTrailers, r.trailers);
  return t;
}

std::size_t write_response(Out& o, const HttpResponse& r) {
  const std::size_t t = o.align(8);
  o.table_start(t, kResponseVtable);
  o.put<std::uint64_t>(t + rs::kBodySize, r.body_size);
  o.put<std::uint16_t>(t + rs::kStatus, r.status);
  o.put<std::uint8_t>(t + rs::kVersion, r.version);
  o.skip_to(t + rs::kSize);
  o.string(t + rs::kReason, r.reason);
  o.fields(t + rs::kHeaders, r.headers);
  if (!r.body.empty()) o.vector(t + rs::kBody, r.body);
  if (!r.trailers.empty()) o.fields(t + rs::kTrailers, r.trailers);
  return t;
}

}  // namespace

void encode_exchange_record(const HttpExchange& x, std::vector<std::uint8_t>& out) {
  const HttpRequest& q = x.request;
  const HttpResponse& s = x.response;
  const bool has_response = x.has_response();
  std::size_t bound = kExchangeTable + xt::kSize;
  if (x.has_request) bound += message_bytes(rq::kSize, q.method, q.target, q.headers, q.trailers, q.body.size());
  if (has_response) bound += message_bytes(rs::kSize, s.reason, {}, s.headers, s.trailers, s.body.size());
  out.assign(bound + 8, 0);
  Out o(out.data());

  o.vtable(kExchangeVtable,
           {kExchangeVtableBytes, xt::kSize, xt::kId, xt::kSession, xt::kConnection,
            xt::kConnectionIndex, xt::kClient, xt::kServer, xt::kRequestFirst, xt::kRequestLast,
            xt::kResponseFirst, xt::kResponseLast, present(x.has_request, xt::kRequest),
            present(has_response, xt::kResponse), xt::kFlags});
  o.vtable(kRequestVtable,
           {kMessageVtableBytes, rq::kSize, rq::kMethod, rq::kTarget, rq::kVersion, rq::kHeaders,
            present(!q.body.empty(), rq::kBody), rq::kBodySize, present(!q.trailers.empty(), rq::kTrailers)});
  o.vtable(kResponseVtable,
           {kMessageVtableBytes, rs::kSize, rs::kStatus, rs::kReason, rs::kVersion, rs::kHeaders,
            present(!s.body.empty(), rs::kBody), rs::kBodySize, present(!s.trailers.empty(), rs::kTrailers)});
  o.vtable(kHeaderVtable, {kHeaderVtableBytes, kHeaderSize, kHeaderName, kHeaderValue});

  constexpr std::size_t t = kExchangeTable;
  o.link(4, t);
  o.table_start(t, kExchangeVtable);
  std::uint32_t flags = static_cast<std::uint32_t>(x.flags);
  if (!x.has_request) flags |= static_cast<std::uint32_t>(fb::ExchangeFlags::NoRequest);
  o.put<std::uint32_t>(t + xt::kConnectionIndex, x.connection_index);
  o.put<std::uint64_t>(t + xt::kConnection, x.connection_id);
  o.put(t + xt::kClient, format::make_endpoint(x.client.address, x.client.port, x.client.family));
  o.put(t + xt::kServer, format::make_endpoint(x.server.address, x.server.port, x.server.family));
  o.put<std::int64_t>(t + xt::kRequestFirst, x.request_first_ns);
  o.put<std::int64_t>(t + xt::kRequestLast, x.request_last_ns);
  o.put<std::int64_t>(t + xt::kResponseFirst, x.response_first_ns);
  o.put<std::int64_t>(t + xt::kResponseLast, x.response_last_ns);
  o.put<std::uint32_t>(t + xt::kFlags, flags);
  o.skip_to(t + xt::kSize);
  if (x.has_request) o.link(t + xt::kRequest, write_request(o, q));
  if (has_response) o.link(t + xt::kResponse, write_response(o, s));
  const std::size_t size = o.align(format::kRecordAlign);
  o.put<uoffset_t>(0, static_cast<uoffset_t>(size - 4));
  out.resize(size);
}

void patch_exchange_record(std::span<std::uint8_t> record, std::uint64_t id, std::uint64_t session_id,
                           std::int64_t request_first_ns, bool late) {
  // The fields sit where encode_exchange_record() put them: no vtable to walk.
  Out o(record.data());
  constexpr std::size_t t = kExchangeTable;
  o.put<std::uint64_t>(t + xt::kId, id);
  o.put<std::uint64_t>(t + xt::kSession, session_id);
  o.put<std::int64_t>(t + xt::kRequestFirst, request_first_ns);
  if (late) {
    std::uint32_t flags;
    std::memcpy(&flags, record.data() + t + xt::kFlags, sizeof flags);
    o.put<std::uint32_t>(t + xt::kFlags, flags | static_cast<std::uint32_t>(fb::ExchangeFlags::Late));
  }
}

}  // namespace reprise::capture
