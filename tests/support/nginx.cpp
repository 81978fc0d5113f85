#include "support/nginx.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace reprise::test {
namespace {

bool port_open(int port, const std::vector<std::string>& prefix) {
  if (!prefix.empty())
    // Connect and close without a byte: nginx logs nothing for that.
    return run(prefixed(prefix, {"bash", "-c", ": > /dev/tcp/127.0.0.1/" + std::to_string(port)}))
               .exit_code == 0;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool Nginx::available() { return ::access("/usr/sbin/nginx", X_OK) == 0; }

std::vector<std::string> prefixed(const std::vector<std::string>& prefix,
                                  std::vector<std::string> command) {
  command.insert(command.begin(), prefix.begin(), prefix.end());
  return command;
}

Nginx::Nginx(std::vector<std::string> prefix) : prefix_(std::move(prefix)) {
  port_ = free_port();
  // nginx's workers drop root privileges: they must be able to read the site.
  std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755));
  const auto root = dir_.path() / "root";
  std::filesystem::create_directories(root / "static");
  for (int n : {0, 100, 10000, 1000000}) {
    std::ofstream f(root / "static" / std::to_string(n), std::ios::binary);
    for (int i = 0; i < n; ++i) f.put(static_cast<char>('a' + i % 26));
  }
  const std::string d = dir_.path().string();
  std::ofstream conf(d + "/nginx.conf");
  conf << "daemon off;\nworker_processes 1;\npid " << d << "/nginx.pid;\nerror_log " << d
       << "/error.log;\nevents { worker_connections 1024; }\nhttp {\n"
       << "  log_format t '$request_method $request_uri $status $request_length $body_bytes_sent';\n"
       << "  access_log " << d << "/access.log t;\n"
       << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
       << "  fastcgi_temp_path " << d << "/fcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
       << "  scgi_temp_path " << d << "/scgi;\n"
       << "  keepalive_requests 10000;\n  client_max_body_size 64m;\n"
       << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root " << root.string() << ";\n"
       << "    location /static/ { default_type application/octet-stream; }\n"
       << "    location /gzip/ { alias " << (root / "static").string()
       << "/; default_type text/plain; gzip on; gzip_types text/plain; gzip_min_length 1; }\n"
       << "    location /echo { client_body_buffer_size 1m; return 200 \"echo\\n\"; }\n"
       << "    location = /status/404 { return 404 \"not here\\n\"; }\n"
       << "    location = /status/500 { return 500 \"broken\\n\"; }\n"
       << "  }\n}\n";
  conf.close();
  process_ = std::make_unique<Background>(
      prefixed(prefix_, {"/usr/sbin/nginx", "-c", d + "/nginx.conf", "-p", d}));
  for (int i = 0; i < 100; ++i) {
    if (port_open(port_, prefix_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("nginx did not start on port " + std::to_string(port_));
}

Nginx::~Nginx() {
  if (process_) process_->stop(SIGQUIT);  // graceful: finishes and logs in-flight requests
}

std::string Nginx::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<AccessLogEntry> Nginx::access_log() const {
  std::vector<AccessLogEntry> out;
  std::ifstream in(dir_.file("access.log"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    AccessLogEntry e;
    s >> e.method >> e.uri >> e.status >> e.request_length >> e.body_bytes_sent;
    out.push_back(e);
  }
  return out;
}

bool Tcpdump::available() { return ::access("/usr/bin/tcpdump", X_OK) == 0; }

Tcpdump::Tcpdump(const std::string& pcap_path, int port, const std::string& interface,
                 const std::vector<std::string>& prefix) {
  err_path_ = pcap_path + ".stderr";
  // -U and --immediate-mode: every packet is written at once. Without immediate mode some
  // kernels keep packets in the capture ring until a block fills, and a stop loses them.
  // -B 16 MiB holds several times the largest burst a test sends. Not more: two tcpdumps setting
  // up 128 MiB rings at once stalled the whole 2-core machine for 100-600 ms, which showed as
  // 200 ms answers in timing tests running beside them (the compare gate's same-release test).
  process_ = std::make_unique<Background>(prefixed(prefix, {
      "/bin/sh", "-c",
      "exec /usr/bin/tcpdump -i " + interface + " --immediate-mode -B 16384 -s 0 -U -n -w " + pcap_path + " 'tcp port " +
          std::to_string(port) + "' 2>" + err_path_}));
  // Wait until tcpdump says it is listening.
  for (int i = 0; i < 200; ++i) {
    std::ifstream err(err_path_);
    std::string text((std::istreambuf_iterator<char>(err)), {});
    if (text.find("listening on") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("tcpdump did not start (needs root or CAP_NET_RAW)");
}

void Tcpdump::stop() {
  if (!process_) return;
  // Give the kernel a moment to hand over the last packets, then stop it cleanly.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  process_->stop(SIGINT);
  process_.reset();
}

Tcpdump::~Tcpdump() { stop(); }

bool NetNs::available() {
  return ::geteuid() == 0 && ::access("/usr/sbin/ethtool", X_OK) == 0 &&
         (::access("/usr/bin/ip", X_OK) == 0 || ::access("/usr/sbin/ip", X_OK) == 0);
}

NetNs::NetNs() {
  static int counter = 0;
  name_ = "reprise-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  if (run({"ip", "netns", "add", name_}).exit_code != 0)
    throw std::runtime_error("cannot create network namespace " + name_);
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"ip", "link", "set", "lo", "mtu", "1500"},
           {"ip", "link", "set", "lo", "up"},
           {"ethtool", "-K", "lo", "tso", "off", "gso", "off", "gro", "off"}}) {
    auto r = run(prefixed(prefix(), cmd));
    if (r.exit_code != 0) throw std::runtime_error(cmd[0] + " in " + name_ + ": " + r.err);
  }
}

NetNs::~NetNs() { run({"ip", "netns", "del", name_}); }

}  // namespace reprise::test
