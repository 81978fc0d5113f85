#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace reprise::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  boost::beast::flat_buffer buffer;
};

std::string HttpAnswer::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  return {};
}

HttpClient::HttpClient(int port) : impl_(std::make_unique<Impl>()) {
  impl_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  impl_->socket.set_option(tcp::no_delay(true));
}

HttpClient::~HttpClient() = default;

void HttpClient::send_raw(const std::string& bytes) { asio::write(impl_->socket, asio::buffer(bytes)); }

HttpAnswer HttpClient::read_answer(bool head) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  parser.skip(head);
  http::read(impl_->socket, impl_->buffer, parser);
  HttpAnswer a;
  const auto& m = parser.get();
  a.status = m.result_int();
  for (const auto& f : m) a.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  a.body = m.body();
  a.keep_alive = m.keep_alive();
  return a;
}

HttpAnswer HttpClient::request(const std::string& method, const std::string& target,
                               const std::vector<std::string>& headers, const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\n";
  bool host = false;
  for (const auto& h : headers) {
    req += h + "\r\n";
    host = host || h.rfind("Host:", 0) == 0;
  }
  if (!host) req += "Host: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  send_raw(req);
  return read_answer(method == "HEAD");
}

std::string HttpClient::read_until_close() {
  std::string out(static_cast<const char*>(impl_->buffer.data().data()), impl_->buffer.size());
  impl_->buffer.clear();
  boost::system::error_code ec;
  char chunk[4096];
  for (;;) {
    const std::size_t n = impl_->socket.read_some(asio::buffer(chunk), ec);
    out.append(chunk, n);
    if (ec) break;
  }
  return out;
}

}  // namespace reprise::test
