#pragma once
// A blocking HTTP/1.1 client for tests (Beast, synchronous): one connection, one request at a
// time, keep-alive, Content-Length and chunked answers. Throws std::system_error on I/O errors.

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace reprise::test {

struct HttpAnswer {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;
  std::string header(const std::string& name) const;  // first value, "" when absent
};

class HttpClient {
 public:
  explicit HttpClient(int port);  // 127.0.0.1:port
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request (Host: 127.0.0.1 unless given; Content-Length for a body or a POST/PUT)
  // and reads the answer. `head`: the request is HEAD (no answer body).
  HttpAnswer request(const std::string& method, const std::string& target,
                     const std::vector<std::string>& headers = {}, const std::string& body = {});
  // Raw bytes out (pipelining, malformed requests); then answers are read with read_answer().
  void send_raw(const std::string& bytes);
  HttpAnswer read_answer(bool head = false);
  // Everything until the server closes.
  std::string read_until_close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reprise::test
