#include "reprise/replay/metrics_server.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "reprise/format/record_json.hpp"
#include "reprise/replay/error.hpp"

namespace reprise::replay {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr int kMaxConnections = 64;
constexpr std::chrono::milliseconds kAcceptPause{50};


}  // namespace

struct MetricsServer::Impl {
  // Before io: sessions still pending when io is destroyed decrement it.
  std::atomic<int> connections{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  // After a failed accept (out of descriptors: the connection stays in the backlog, so an
  // immediate retry fails again at once), the next waits kAcceptPause instead of spinning.
  asio::steady_timer accept_pause{io};
  std::thread thread;
  std::mutex mu;
  std::string text = "# EOF\n";

  std::string current() {
    std::lock_guard lock(mu);
    return text;
  }

  // One scrape: read the request, answer, close. The timer bounds a client that stalls.
  struct Session : std::enable_shared_from_this<Session> {
    Impl& server;
    tcp::socket socket;
    asio::steady_timer timer;
    boost::beast::flat_buffer buffer{8192};
    http::request_parser<http::empty_body> parser;
    http::response<http::string_body> response;

    Session(Impl& s, tcp::socket sock) : server(s), socket(std::move(sock)), timer(s.io) {
      parser.header_limit(8192);
    }
    ~Session() { --server.connections; }

    void run() {
      timer.expires_after(std::chrono::seconds(5));
      timer.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->socket.close();
      });
      http::async_read(socket, buffer, parser,
                       [self = shared_from_this()](const error_code& ec, std::size_t) {
                         self->on_read(ec);
                       });
    }

    void on_read(const error_code& ec) {
      if (ec) return;
      const auto& req = parser.get();
      const bool found = req.target() == "/metrics" || req.target() == "/";
      response.version(11);
      response.keep_alive(false);
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        response.result(http::status::method_not_allowed);
        response.body() = "GET /metrics\n";
      } else if (!found) {
        response.result(http::status::not_found);
        response.body() = "GET /metrics\n";
      } else {
        response.result(http::status::ok);
        response.set(http::field::content_type,
                     "application/openmetrics-text; version=1.0.0; charset=utf-8");
        response.body() = server.current();
      }
      response.prepare_payload();
      http::async_write(socket, response, [self = shared_from_this()](const error_code&, std::size_t) {
        error_code ignored;
        self->socket.shutdown(tcp::socket::shutdown_both, ignored);
        self->timer.cancel();
      });
    }
  };

  void do_accept() {
    acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        accept_pause.expires_after(kAcceptPause);
        accept_pause.async_wait([this](const error_code& waited) {
          if (!waited) do_accept();
        });
        return;
      }
      if (connections.load() >= kMaxConnections) {
        error_code ignored;
        socket.close(ignored);
      } else {
        ++connections;
        std::make_shared<Session>(*this, std::move(socket))->run();
      }
      do_accept();
    });
  }
};

namespace {

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return fail(errc::bad_plan, "--metrics-listen", "'" + listen + "': " + why);
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("expected HOST:PORT, e.g. 127.0.0.1:9464");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port > 65535) return bad("bad port (0 to 65535)");
  } catch (const std::exception&) {
    return bad("bad port (0 to 65535)");
  }
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return bad("not an IP address (" + ec.message() + ")");
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

}  // namespace

Status MetricsServer::check(const std::string& listen) {
  if (auto e = parse_listen(listen); !e) return e.take_error();
  return {};
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return fail(errc::listen_failed, "--metrics-listen", "'" + listen + "': " + why);
  };
  auto parsed = parse_listen(listen);
  if (!parsed) return parsed.take_error();
  auto impl = std::make_unique<Impl>();
  error_code ec;
  const tcp::endpoint endpoint = *parsed;
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return bad(ec.message());
  impl->do_accept();
  Impl* p = impl.get();
  impl->thread = std::thread([p] { p->io.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t MetricsServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void MetricsServer::publish(std::string exposition) {
  std::lock_guard lock(impl_->mu);
  impl_->text = std::move(exposition);
}

std::string openmetrics_text(const LiveStatus& s) {
  std::string out;
  auto line = [&](const std::string& text) {
    out += text;
    out += '\n';
  };
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return std::string(buf);
  };
  line("# HELP reprise_elapsed_seconds Time since the replay started.");
  line("# TYPE reprise_elapsed_seconds gauge");
  line("reprise_elapsed_seconds " + num(static_cast<double>(s.elapsed_ns) / 1e9));
  line("# TYPE reprise_stage_level gauge");
  line("reprise_stage_level " + num(s.stage_level));
  line("# TYPE reprise_inflight gauge");
  line("reprise_inflight " + num(s.inflight));
  line("# HELP reprise_waiting Requests due but held back by a limit.");
  line("# TYPE reprise_waiting gauge");
  line("reprise_waiting " + num(static_cast<double>(s.waiting)));
  line("# TYPE reprise_requests_sent counter");
  line("reprise_requests_sent_total " + num(static_cast<double>(s.sent)));
  line("# HELP reprise_achieved_rate Outcomes in the last whole second.");
  line("# TYPE reprise_achieved_rate gauge");
  line("reprise_achieved_rate " + num(s.achieved_rate));
  line("# HELP reprise_latency_seconds Latency from the actual send, last whole second.");
  line("# TYPE reprise_latency_seconds gauge");
  line("reprise_latency_seconds{quantile=\"0.5\"} " + num(static_cast<double>(s.p50_ns) / 1e9));
  line("reprise_latency_seconds{quantile=\"0.99\"} " + num(static_cast<double>(s.p99_ns) / 1e9));
  line("# TYPE reprise_lateness_p99_seconds gauge");
  line("reprise_lateness_p99_seconds " + num(static_cast<double>(s.lateness_p99_ns) / 1e9));
  if (s.totals != nullptr) {
    line("# TYPE reprise_responses counter");
    static const char* const kClasses[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < s.totals->status_classes.size(); ++i)
      line(std::string("reprise_responses_total{class=\"") + kClasses[i] + "\"} " +
           num(static_cast<double>(s.totals->status_classes[i])));
    line("# TYPE reprise_errors counter");
    for (std::size_t k = 1; k < s.totals->errors.size(); ++k)
      line(std::string("reprise_errors_total{kind=\"") + format::error_kind_name(static_cast<format::fb::ErrorKind>(k)) + "\"} " +
           num(static_cast<double>(s.totals->errors[k])));
  }
  line("# EOF");
  return out;
}

}  // namespace reprise::replay
