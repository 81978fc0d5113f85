#include <catch2/catch.hpp>

#include "reprise/capture/exchange_record.hpp"
#include "reprise/format/records.hpp"

using namespace reprise;
using namespace reprise::capture;
namespace fb = reprise::format::fb;

namespace {

IpEndpoint v4(std::uint8_t last, std::uint16_t port) {
  IpEndpoint e;
  e.address[10] = e.address[11] = 0xff;
  e.address[12] = 10;
  e.address[15] = last;
  e.port = port;
  e.family = 4;
  return e;
}

IpEndpoint v6(std::uint16_t port) {
  IpEndpoint e;
  for (std::size_t i = 0; i < e.address.size(); ++i) e.address[i] = static_cast<std::uint8_t>(0xf0 + i);
  e.port = port;
  e.family = 6;
  return e;
}

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

HttpExchange full_exchange() {
  HttpExchange x;
  x.connection_id = 0x0102030405060708;
  x.connection_index = 7;
  x.client = v4(9, 51000);
  x.server = v6(443);
  x.request_first_ns = -5;  // signed: a time before the epoch survives
  x.request_last_ns = 1'700'000'000'000'000'001;
  x.response_first_ns = 1'700'000'000'000'000'002;
  x.response_last_ns = 1'700'000'000'000'000'003;
  x.flags = ExchangeFlags::Gap | ExchangeFlags::ResponseBodyTruncated;
  x.request.method = "POST";
  x.request.target = "/orders?id=1";
  x.request.version = 10;
  x.request.headers = {{"Host", "shop"}, {"Transfer-Encoding", "chunked"}, {"X-Empty", ""}};
  x.request.trailers = {{"X-Check", "1"}};
  x.request.body = bytes_of("{\"item\":42}");
  x.request.body_size = 11;
  x.response.status = 201;
  x.response.reason = "Created";
  x.response.headers = {{"Content-Length", "3"}, {"Set-Cookie", "sid=ab12; Path=/"}};
  x.response.trailers = {{"X-T", "done"}, {"X-U", "again"}};
  x.response.body = bytes_of("abc");
  x.response.body_size = 1000;
  return x;
}

std::vector<std::unique_ptr<fb::HeaderT>> fields_of(const HttpHeaders& h) {
  std::vector<std::unique_ptr<fb::HeaderT>> out;
  for (const auto& [name, value] : h) {
    out.push_back(std::make_unique<fb::HeaderT>());
    out.back()->name = name;
    out.back()->value = value;
  }
  return out;
}

// The fields requests and responses share.
template <typename Table, typename Message>
void message_fields(Table& t, const Message& m) {
  t.version = m.version;
  t.headers = fields_of(m.headers);
  t.trailers = fields_of(m.trailers);
  t.body = m.body;
  t.body_size = m.body_size;
}

// What the record must hold, written field by field from the schema.
fb::ExchangeT expected(const HttpExchange& x) {
  fb::ExchangeT e;
  e.connection_id = x.connection_id;
  e.connection_index = x.connection_index;
  e.client = std::make_unique<fb::Endpoint>(format::make_endpoint(x.client.address, x.client.port, x.client.family));
  e.server = std::make_unique<fb::Endpoint>(format::make_endpoint(x.server.address, x.server.port, x.server.family));
  e.request_first_ns = x.request_first_ns;
  e.request_last_ns = x.request_last_ns;
  e.response_first_ns = x.response_first_ns;
  e.response_last_ns = x.response_last_ns;
  auto flags = static_cast<std::uint32_t>(x.flags);
  if (!x.has_request) flags |= static_cast<std::uint32_t>(fb::ExchangeFlags::NoRequest);
  e.flags = static_cast<fb::ExchangeFlags>(flags);
  if (x.has_request) {
    e.request = std::make_unique<fb::RequestT>();
    e.request->method = x.request.method;
    e.request->target = x.request.target;
    message_fields(*e.request, x.request);
  }
  if (x.has_response()) {
    e.response = std::make_unique<fb::ResponseT>();
    e.response->status = x.response.status;
    e.response->reason = x.response.reason;
    message_fields(*e.response, x.response);
  }
  return e;
}

// Encodes `x`, checks the record is one the trace format accepts, and reads it back.
fb::ExchangeT round_trip(const HttpExchange& x) {
  std::vector<std::uint8_t> record{1, 2, 3};  // old contents are replaced
  encode_exchange_record(x, record);
  REQUIRE(record.size() % 8 == 0);
  REQUIRE(format::verify_record(format::FileKind::Trace, record));
  fb::ExchangeT out;
  format::exchange_of(record)->UnPackTo(&out);
  return out;
}

}  // namespace

TEST_CASE("exchange record: every field of a full exchange is stored as the schema says",
          "[exchange_record]") {
  const HttpExchange x = full_exchange();
  CHECK(round_trip(x) == expected(x));
}

TEST_CASE("exchange record: a missing side stores no table, and no request is flagged",
          "[exchange_record]") {
  HttpExchange x = full_exchange();
  SECTION("no response") {
    x.flags = ExchangeFlags::NoResponse;
    x.response = {};
    x.response_first_ns = x.response_last_ns = 0;
    const auto e = round_trip(x);
    CHECK(e.response == nullptr);
    CHECK(e == expected(x));
  }
  SECTION("no request") {
    x.has_request = false;
    x.request = {};
    const auto e = round_trip(x);
    CHECK(e.request == nullptr);
    CHECK((e.flags & fb::ExchangeFlags::NoRequest) == fb::ExchangeFlags::NoRequest);
    CHECK(e == expected(x));
  }
  SECTION("empty bodies, no fields, empty strings") {
    x.request = {};
    x.response = {};
    CHECK(round_trip(x) == expected(x));
  }
}

TEST_CASE("exchange record: every length of every string and body keeps the record valid",
          "[exchange_record]") {
  // Lengths 0..8 move each item through every alignment the next item can start at; with the
  // bodies (a + b up to 16, a * b up to 64) they also take every path of the string copy
  // (under 4, 4 to 7, 8 to 16 bytes, longer).
  HttpExchange x = full_exchange();
  for (std::size_t a = 0; a <= 8; ++a) {
    for (std::size_t b = 0; b <= 8; ++b) {
      x.request.method = std::string(a, 'M');
      x.request.target = std::string(b, 't');
      x.request.headers = {{std::string(a, 'n'), std::string(b, 'v')}, {std::string(b, 'N'), ""}};
      x.request.body.assign(a + b, 0x5a);
      x.response.reason = std::string(b, 'r');
      x.response.headers.assign(a, {std::string(b, 'h'), std::string(a, 'w')});
      x.response.body.assign(a * b, 0xa5);
      x.response.trailers.assign(b % 3, {"t", std::string(a, 'x')});
      INFO("lengths " << a << ", " << b);
      CHECK(round_trip(x) == expected(x));
    }
  }
}

TEST_CASE("exchange record: patching sets id, session, start and Late, and nothing else",
          "[exchange_record]") {
  const HttpExchange x = full_exchange();
  std::vector<std::uint8_t> record;
  encode_exchange_record(x, record);
  patch_exchange_record(record, 41, 9, 123, false);
  auto e = expected(x);
  e.id = 41;
  e.session_id = 9;
  e.request_first_ns = 123;
  REQUIRE(format::verify_record(format::FileKind::Trace, record));
  fb::ExchangeT got;
  format::exchange_of(record)->UnPackTo(&got);
  CHECK(got == e);

  patch_exchange_record(record, 42, 10, 124, true);
  format::exchange_of(record)->UnPackTo(&got);
  CHECK(got.id == 42);
  CHECK(got.flags == (e.flags | fb::ExchangeFlags::Late));
}
