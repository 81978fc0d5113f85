#include "support/trace_file.hpp"

#include <catch2/catch.hpp>

#include <utility>

#include "reprise/format/writer.hpp"

namespace reprise::test {

namespace fb = format::fb;

fb::ExchangeT exchange(std::uint64_t id, std::uint64_t session, std::int64_t request_ns,
                       std::string method, std::string target) {
  constexpr std::int64_t kMs = 1'000'000;
  fb::ExchangeT x;
  x.id = id;
  x.session_id = session;
  x.connection_id = session;
  x.request_first_ns = request_ns;
  x.request_last_ns = request_ns;
  x.response_first_ns = request_ns + kMs;
  x.response_last_ns = request_ns + 2 * kMs;
  x.request = std::make_unique<fb::RequestT>();
  x.request->method = std::move(method);
  x.request->target = std::move(target);
  x.response = std::make_unique<fb::ResponseT>();
  x.response->status = 200;
  return x;
}

std::unique_ptr<fb::HeaderT> field(std::string name, std::string value) {
  auto h = std::make_unique<fb::HeaderT>();
  h->name = std::move(name);
  h->value = std::move(value);
  return h;
}

void set_body(fb::RequestT& request, std::string_view body) {
  request.body.assign(body.begin(), body.end());
  request.body_size = body.size();
}

void set_body(fb::ResponseT& response, std::string_view body) {
  response.body.assign(body.begin(), body.end());
  response.body_size = body.size();
}

std::string write_trace(const std::string& path, const std::vector<fb::ExchangeT>& exchanges,
                        const std::string& source) {
  fb::FileHeaderT header;
  header.kind = fb::FileKind::Trace;
  header.source = source;
  auto writer = format::Writer::open(path, std::move(header));
  REQUIRE(writer);
  for (const auto& x : exchanges) REQUIRE((*writer)->append(x));
  REQUIRE((*writer)->close());
  return path;
}

}  // namespace reprise::test
