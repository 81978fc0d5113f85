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
  //   /gzip/<n>     the same file, gzip-encoded when the client accepts it
  //   /echo         200 with a short text body, any method (request bodies are read and dropped)
  //   /status/404, /status/500   that status with a short body
  // Throws if nginx does not come up within 5 s. `prefix` runs it elsewhere, e.g. in a network
  // namespace (NetNs::prefix()).
  explicit Nginx(std::vector<std::string> prefix = {});
  ~Nginx();

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  // The access log so far (nginx writes each line as the request completes).
  std::vector<AccessLogEntry> access_log() const;

  static bool available();  // /usr/sbin/nginx exists

 private:
  TempDir dir_;
  int port_ = 0;
  std::vector<std::string> prefix_;
  std::unique_ptr<Background> process_;
};

// tcpdump capturing loopback traffic on one port into a pcap, stopped (and flushed) on destruction
// or by stop().
class Tcpdump {
 public:
  Tcpdump(const std::string& pcap_path, int port, const std::string& interface = "lo",
          const std::vector<std::string>& prefix = {});
  ~Tcpdump();
  void stop();
  static bool available();

 private:
  std::unique_ptr<Background> process_;
  std::string err_path_;
};

// A network namespace of the test's own whose loopback behaves like a real link: MTU 1500 and
// segmentation offloads off, so captures hold real 1500-byte segments instead of the 64 KiB
// super-segments of the default loopback. Deleted on destruction. Needs root, ip and ethtool.
class NetNs {
 public:
  NetNs();
  ~NetNs();
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;
  // Prepend to a command to run it inside the namespace.
  std::vector<std::string> prefix() const { return {"ip", "netns", "exec", name_}; }
  static bool available();

 private:
  std::string name_;
};

// `command` with `prefix` in front.
std::vector<std::string> prefixed(const std::vector<std::string>& prefix,
                                  std::vector<std::string> command);

}  // namespace reprise::test
