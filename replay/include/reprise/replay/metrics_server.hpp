#pragma once
// MetricsServer: serves the live state of a replay as OpenMetrics text (for Prometheus and
// Grafana) on GET /metrics, from a thread of its own so a slow scraper never slows the replay.
// The replay publishes a new exposition about once a second; scrapes get the latest one.
// Limits: 64 connections at once, 8 KiB of request header, 5 s per connection; one request per
// connection (Connection: close).

#include <cstdint>
#include <memory>
#include <string>

#include "reprise/replay/replayer.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

class MetricsServer {
 public:
  // `listen` is HOST:PORT ("127.0.0.1:9464", "[::1]:9464"; port 0 picks one). Errors:
  // errc::listen_failed naming the address.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen);
  // Checks `listen` (HOST:PORT, an IP address and a port) without binding: errc::bad_plan, the
  // flag's usage error, when it is not one. start() fails with listen_failed only on binding.
  static Status check(const std::string& listen);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const;
  void publish(std::string exposition);

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The OpenMetrics exposition of a live status (ends with "# EOF").
std::string openmetrics_text(const LiveStatus& status);

}  // namespace reprise::replay
