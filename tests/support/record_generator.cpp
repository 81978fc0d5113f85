#include "support/record_generator.hpp"

namespace reprise::test {
namespace {

std::string random_text(std::mt19937_64& rng, std::size_t max_len) {
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<int> ch(32, 126);
  std::string s(len(rng), ' ');
  for (char& c : s) c = static_cast<char>(ch(rng));
  return s;
}

std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t max_len) {
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::vector<std::uint8_t> b(len(rng));
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

std::vector<std::unique_ptr<fb::HeaderT>> random_headers(std::mt19937_64& rng) {
  std::vector<std::unique_ptr<fb::HeaderT>> out(rng() % 12);
  for (auto& h : out) {
    h = std::make_unique<fb::HeaderT>();
    h->name = random_text(rng, 20);
    h->value = random_text(rng, 80);
  }
  return out;
}

fb::Endpoint random_endpoint(std::mt19937_64& rng) {
  std::array<std::uint8_t, 16> a{};
  for (auto& x : a) x = static_cast<std::uint8_t>(rng());
  return format::make_endpoint(a, static_cast<std::uint16_t>(rng()), rng() % 2 ? 4 : 6);
}

std::unique_ptr<fb::HeaderT> header(std::string name, std::string value) {
  auto h = std::make_unique<fb::HeaderT>();
  h->name = std::move(name);
  h->value = std::move(value);
  return h;
}

}  // namespace

fb::ExchangeT random_exchange(std::mt19937_64& rng, std::uint64_t id, std::int64_t start_ns) {
  fb::ExchangeT e;
  e.id = id;
  e.session_id = rng() % 1000;
  e.connection_id = rng() % 5000 + 1;
  e.connection_index = static_cast<std::uint32_t>(rng() % 100);
  e.client = std::make_unique<fb::Endpoint>(random_endpoint(rng));
  e.server = std::make_unique<fb::Endpoint>(random_endpoint(rng));
  e.request_first_ns = start_ns;
  e.request_last_ns = start_ns + static_cast<std::int64_t>(rng() % 1000);
  e.response_first_ns = e.request_last_ns + static_cast<std::int64_t>(rng() % 100000);
  e.response_last_ns = e.response_first_ns + static_cast<std::int64_t>(rng() % 1000);
  e.request = std::make_unique<fb::RequestT>();
  e.request->method = random_text(rng, 8);
  e.request->target = random_text(rng, 200);
  e.request->version = rng() % 2 ? 10 : 11;
  e.request->headers = random_headers(rng);
  e.request->body = random_bytes(rng, rng() % 10 == 0 ? 100000 : 300);
  e.request->body_size = e.request->body.size() + rng() % 3;
  if (rng() % 5 == 0) e.request->trailers = random_headers(rng);
  if (rng() % 8 != 0) {  // some exchanges have no response
    e.response = std::make_unique<fb::ResponseT>();
    e.response->status = static_cast<std::uint16_t>(100 + rng() % 500);
    e.response->reason = random_text(rng, 20);
    e.response->version = 11;
    e.response->headers = random_headers(rng);
    e.response->body = random_bytes(rng, 2000);
    e.response->body_size = e.response->body.size();
  }
  e.flags = static_cast<fb::ExchangeFlags>(rng() & 0xFFF);
  return e;
}

fb::OutcomeT random_outcome(std::mt19937_64& rng, std::uint64_t exchange_id, std::int64_t intended_ns) {
  fb::OutcomeT o;
  o.exchange_id = exchange_id;
  o.clone = static_cast<std::uint32_t>(rng() % 4);
  o.session_id = rng() % 1000;
  o.intended_ns = intended_ns;
  o.sent_ns = intended_ns + static_cast<std::int64_t>(rng() % 1000);
  o.first_byte_ns = o.sent_ns + static_cast<std::int64_t>(rng() % 100000);
  o.done_ns = o.first_byte_ns + static_cast<std::int64_t>(rng() % 1000);
  o.status = static_cast<std::uint16_t>(rng() % 600);
  o.error = static_cast<fb::ErrorKind>(rng() % 7);
  o.bytes_sent = rng() % 100000;
  o.bytes_received = rng() % 100000;
  o.response_digest = rng();
  o.connection_reused = rng() % 2 == 0;
  if (rng() % 3 == 0) {
    o.response_body = random_bytes(rng, 500);
    o.response_headers = random_headers(rng);
  }
  return o;
}

fb::ExchangeT realistic_exchange(std::mt19937_64& rng, std::uint64_t id, std::int64_t start_ns) {
  static const char* kPaths[] = {"/api/v1/users/", "/api/v1/orders/", "/api/v1/cart",
                                 "/static/app.js", "/api/v1/search?q=", "/login"};
  fb::ExchangeT e;
  e.id = id;
  e.session_id = rng() % 2000 + 1;
  e.connection_id = e.session_id * 4 + rng() % 4;
  e.connection_index = static_cast<std::uint32_t>(rng() % 20);
  // Clients from a pool of addresses (one per session), one server, ephemeral client ports.
  std::array<std::uint8_t, 16> client{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0,
                                      static_cast<std::uint8_t>(e.session_id >> 8),
                                      static_cast<std::uint8_t>(e.session_id)};
  std::array<std::uint8_t, 16> server{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 5};
  e.client = std::make_unique<fb::Endpoint>(format::make_endpoint(
      client, static_cast<std::uint16_t>(32768 + e.connection_id % 28000), 4));
  e.server = std::make_unique<fb::Endpoint>(format::make_endpoint(server, 8080, 4));
  e.request_first_ns = start_ns;
  e.request_last_ns = start_ns + 20000;
  e.response_first_ns = start_ns + 2000000 + static_cast<std::int64_t>(rng() % 5000000);
  e.response_last_ns = e.response_first_ns + 50000;
  const unsigned kind = static_cast<unsigned>(rng() % 100);
  const std::string user = std::to_string(rng() % 100000);
  e.request = std::make_unique<fb::RequestT>();
  auto& rq = *e.request;
  rq.method = kind < 70 ? "GET" : "POST";
  rq.target = std::string(kPaths[kind % 6]) + user;
  rq.headers.push_back(header("Host", "shop.example.com"));
  rq.headers.push_back(header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                                            "(KHTML, like Gecko) Chrome/120.0 Safari/537.36"));
  rq.headers.push_back(header("Accept", "application/json, text/plain, */*"));
  rq.headers.push_back(header("Accept-Encoding", "gzip, deflate, br"));
  rq.headers.push_back(header("Cookie", "sid=" + std::to_string(e.session_id * 7919) +
                                            "abcdef0123456789; theme=dark"));
  rq.headers.push_back(header("X-Request-Id", std::to_string(rng())));
  if (rq.method == "POST") {
    const std::string body = "{\"user\":" + user + ",\"items\":[{\"sku\":\"A-" +
                             std::to_string(rng() % 1000) + "\",\"qty\":" +
                             std::to_string(rng() % 5 + 1) + "}],\"note\":\"\"}";
    rq.body.assign(body.begin(), body.end());
    rq.headers.push_back(header("Content-Type", "application/json"));
    rq.headers.push_back(header("Content-Length", std::to_string(body.size())));
  }
  rq.body_size = rq.body.size();
  e.response = std::make_unique<fb::ResponseT>();
  auto& rs = *e.response;
  rs.status = kind % 17 == 0 ? 404 : 200;
  rs.reason = rs.status == 200 ? "OK" : "Not Found";
  rs.headers.push_back(header("Server", "nginx/1.22.1"));
  rs.headers.push_back(header("Date", "Tue, 24 Nov 2026 01:00:" + std::to_string(rng() % 60) + " GMT"));
  rs.headers.push_back(header("Content-Type", "application/json; charset=utf-8"));
  rs.headers.push_back(header("Cache-Control", "no-store"));
  std::string body;
  if (kind < 2) {  // a few large bodies (a report download)
    body.reserve(200000);
    while (body.size() < 200000)
      body += "{\"row\":" + std::to_string(rng() % 1000000) + ",\"value\":" +
              std::to_string(rng() % 100000) + ".25,\"label\":\"item-" + std::to_string(rng() % 500) + "\"},";
  } else {
    body = "{\"id\":" + user + ",\"name\":\"User " + user + "\",\"email\":\"user" + user +
           "@example.com\",\"orders\":[";
    const unsigned n = static_cast<unsigned>(rng() % 8);
    for (unsigned i = 0; i < n; ++i)
      body += "{\"order\":" + std::to_string(rng() % 1000000) + ",\"total\":" +
              std::to_string(rng() % 50000) + ",\"status\":\"" + (rng() % 2 ? "shipped" : "pending") +
              "\"},";
    body += "{}],\"updated_at\":\"2026-11-24T01:00:00Z\",\"token\":\"" + std::to_string(rng()) + "\"}";
  }
  rs.body.assign(body.begin(), body.end());
  rs.body_size = rs.body.size();
  rs.headers.push_back(header("Content-Length", std::to_string(body.size())));
  return e;
}

std::string wire_bytes(const fb::ExchangeT& e) {
  std::string out;
  const auto& rq = *e.request;
  out += rq.method + " " + rq.target + " HTTP/1.1\r\n";
  for (const auto& h : rq.headers) out += h->name + ": " + h->value + "\r\n";
  out += "\r\n";
  out.append(rq.body.begin(), rq.body.end());
  if (e.response) {
    const auto& rs = *e.response;
    out += "HTTP/1.1 " + std::to_string(rs.status) + " " + rs.reason + "\r\n";
    for (const auto& h : rs.headers) out += h->name + ": " + h->value + "\r\n";
    out += "\r\n";
    out.append(rs.body.begin(), rs.body.end());
  }
  return out;
}

}  // namespace reprise::test
