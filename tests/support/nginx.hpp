#pragma once
// A real nginx (Debian's) on 127.0.0.1 and a free port, for integration tests. Its access log
// records, per request: method, URI, status, request length and response body bytes — the
// truth that captured traces are checked against.

#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace reprise::test {

struct AccessLogEntry {
  std::string method;
  std::string uri;
  int status = 0;
  long request_length = 0;    // request line, headers and body
  long body_bytes_sent = 0;   // response body
};

class Nginx {
 public:
  // Starts nginx with a config serving:
  //   /static/<n>   a file of n bytes (n in 0, 100, 10000, 1000000) — GET and HEAD
  //   /echo         200 with a short text body, any method (request bodies are read and dropped)
  //   /status/404, /status/500   that status with a short body
  // Throws if nginx does not come up within 5 s.
  Nginx();
  ~Nginx();

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  // The access log so far (nginx writes each line as the request completes).
  std::vector<AccessLogEntry> access_log() const;

  static bool available();  // /usr/sbin/nginx exists

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Background> process_;
};

// tcpdump capturing loopback traffic on one port into a pcap, stopped (and flushed) on destruction
// or by stop().
class Tcpdump {
 public:
  Tcpdump(const std::string& pcap_path, int port, const std::string& interface = "lo");
  ~Tcpdump();
  void stop();
  static bool available();

 private:
  std::unique_ptr<Background> process_;
  std::string err_path_;
};

}  // namespace reprise::test
