#include "support/test_server.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace reprise::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

void raise_max(std::atomic<std::uint64_t>& max, std::uint64_t value) {
  auto seen = max.load();
  while (seen < value && !max.compare_exchange_weak(seen, value)) {
  }
}

// Statuses whose responses carry no body (Beast's prepare_payload() refuses one).
bool bodiless(unsigned status) { return status / 100 == 1 || status == 204 || status == 304; }

}  // namespace

std::optional<std::string> ReceivedRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (beast::iequals(n, beast::string_view(name.data(), name.size()))) return v;
  return std::nullopt;
}

Behaviour Behaviour::respond(unsigned status, std::string body, std::string content_type) {
  Behaviour b;
  b.status = status;
  b.body = std::move(body);
  b.content_type = std::move(content_type);
  return b;
}

Behaviour Behaviour::json(std::string json, unsigned status) {
  return respond(status, std::move(json), "application/json");
}

Behaviour Behaviour::reset_connection() {
  Behaviour b;
  b.action = Action::reset;
  return b;
}

Behaviour Behaviour::close_connection() {
  Behaviour b;
  b.action = Action::close;
  return b;
}

Behaviour Behaviour::garbage(std::string bytes) {
  Behaviour b;
  b.action = Action::garbage;
  b.body = std::move(bytes);
  return b;
}

// Everything the server's threads share. Declaration order is destruction order reversed: the
// acceptor and the io_context go first, and destroying the io_context destroys the sessions still
// waiting in it, whose destructors update the counters declared above it.
struct TestServer::State {
  explicit State(const TestServerOptions& o)
      : options(o),
        ioc(static_cast<int>(std::max(o.threads, 1u))),
        work(net::make_work_guard(ioc)),
        acceptor(net::make_strand(ioc)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  Behaviour choose(const ReceivedRequest& request) const;
  void log(const ReceivedRequest& request);
  void fail(beast::error_code ec, const char* what);

  TestServerOptions options;

  mutable std::mutex mutex;  // guards the log, the rules, the handler and last_error
  std::condition_variable logged;
  std::vector<ReceivedRequest> requests;
  std::vector<std::pair<std::string, Behaviour>> rules;
  Handler handler;
  std::string last_error;

  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> max_open{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> max_in_flight{0};
  std::atomic<std::uint64_t> errors{0};

  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work;  // run() survives no acceptor
  tcp::acceptor acceptor;  // on a strand of its own: stop_accepting() posts to it
  tcp::endpoint endpoint;
  std::vector<std::thread> threads;
};

// One accepted connection, on its own strand. Per request:
//   do_read -> on_read_header [-> on_continue_sent] -> on_read -> (timer) act ->
//   respond -> on_write -> do_read | close
// or act -> reset | close | garbage -> on_garbage_written -> close.
// The request is in flight from on_read_header until the response is written or the connection
// is dropped; the destructor ends it too, for the paths that end on an error.
class TestServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, State& state, std::uint64_t number)
      : socket_(std::move(socket)), state_(state), number_(number), timer_(socket_.get_executor()) {}

  ~Session() {
    end_request();
    --state_.open;
  }

  void run() {
    net::dispatch(socket_.get_executor(),
                  beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(state_.options.header_limit, UINT32_MAX)));
    parser_->body_limit(state_.options.body_limit);
    http::async_read_header(socket_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_read_header, shared_from_this()));
    if (state_.options.keep_alive_timeout.count() > 0) {
      timer_.expires_after(state_.options.keep_alive_timeout);
      timer_.async_wait(beast::bind_front_handler(&Session::on_idle, shared_from_this()));
    }
  }

  void on_idle(beast::error_code ec) {
    if (ec) return;  // a request came first
    idle_closed_ = true;
    socket_.close(ec);
  }

  void on_read_header(beast::error_code ec, std::size_t) {
    if (idle_closed_) return;
    timer_.cancel();
    // The client closing between requests is the normal end of a keep-alive connection.
    if (ec == http::error::end_of_stream || ec == net::error::connection_reset) return;
    if (ec) return state_.fail(ec, "read header");
    arrived_ = std::chrono::steady_clock::now();
    in_flight_ = true;
    raise_max(state_.max_in_flight, ++state_.in_flight);

    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_ = http::response<http::empty_body>(http::status::continue_, req.version());
      return http::async_write(socket_, continue_,
                               beast::bind_front_handler(&Session::on_continue_sent, shared_from_this()));
    }
    do_read_body();
  }

  void on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec) return state_.fail(ec, "write 100-continue");
    do_read_body();
  }

  void do_read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return state_.fail(ec, "read body");
    const auto& req = parser_->get();
    ReceivedRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.version = req.version();
    for (const auto& field : req) r.headers.emplace_back(field.name_string(), field.value());
    r.body = req.body();
    r.chunked = parser_->chunked();
    r.connection = number_;
    r.sequence = ++sequence_;
    r.arrived = arrived_;
    state_.log(r);
    request_ = std::move(r);
    behaviour_ = state_.choose(request_);

    if (behaviour_.delay.count() > 0) {
      timer_.expires_after(behaviour_.delay);
      return timer_.async_wait(beast::bind_front_handler(&Session::on_delay, shared_from_this()));
    }
    act();
  }

  void on_delay(beast::error_code ec) {
    if (ec) return state_.fail(ec, "delay");
    act();
  }

  void act() {
    switch (behaviour_.action) {
      case Behaviour::Action::respond: return respond();
      case Behaviour::Action::reset: return reset();
      case Behaviour::Action::close: return close();
      case Behaviour::Action::garbage:
        garbage_ = behaviour_.body.value_or(std::string(Behaviour::garbage_bytes));
        return net::async_write(socket_, net::buffer(garbage_),
                                beast::bind_front_handler(&Session::on_garbage_written,
                                                          shared_from_this()));
    }
  }

  void respond() {
    const auto& req = parser_->get();
    response_ = http::response<http::string_body>();
    response_.version(req.version());
    response_.result(behaviour_.status);
    response_.set(http::field::server, "reprise-test-server");
    if (!behaviour_.content_type.empty())
      response_.set(http::field::content_type, behaviour_.content_type);
    for (const auto& [name, value] : behaviour_.headers) response_.insert(name, value);
    response_.keep_alive(req.keep_alive() && behaviour_.keep_alive);
    if (!bodiless(behaviour_.status))
      response_.body() = behaviour_.body.value_or("ok " + request_.target);
    if (req.method() == http::verb::head) {
      // A HEAD answer announces the body it would have sent and sends none.
      response_.content_length(response_.body().size());
      response_.body().clear();
    } else if (behaviour_.chunked && !bodiless(behaviour_.status)) {
      response_.chunked(true);
    } else {
      response_.prepare_payload();
    }
    if (behaviour_.pause_mid_answer.count() > 0) return write_in_halves();
    http::async_write(socket_, response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void write_in_halves() {
    std::ostringstream wire;
    wire << response_;
    halves_ = wire.str();
    net::async_write(socket_, net::buffer(halves_.data(), halves_.size() / 2),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->state_.fail(ec, "write first half");
                       self->timer_.expires_after(self->behaviour_.pause_mid_answer);
                       self->timer_.async_wait([self](beast::error_code timer_ec) {
                         if (timer_ec) return self->state_.fail(timer_ec, "pause mid-answer");
                         const std::size_t half = self->halves_.size() / 2;
                         net::async_write(self->socket_, net::buffer(self->halves_.data() + half, self->halves_.size() - half),
                                          beast::bind_front_handler(&Session::on_write, self));
                       });
                     });
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return state_.fail(ec, "write");
    end_request();
    if (response_.need_eof() || behaviour_.close_after) return close();
    do_read();
  }

  void on_garbage_written(beast::error_code ec, std::size_t) {
    if (ec) return state_.fail(ec, "write garbage");
    close();
  }

  // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
  // The request ends first so that a client woken by the RST or FIN already sees it ended.
  void reset() {
    end_request();
    beast::error_code ec;
    socket_.set_option(net::socket_base::linger(true, 0), ec);
    socket_.close(ec);
  }

  // FIN after the last byte; the socket itself closes when the last handler lets go of us.
  void close() {
    end_request();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
  }

  void end_request() {
    if (!in_flight_) return;
    in_flight_ = false;
    --state_.in_flight;
  }

  tcp::socket socket_;
  State& state_;
  const std::uint64_t number_;
  std::uint64_t sequence_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;  // new for each request
  net::steady_timer timer_;
  std::chrono::steady_clock::time_point arrived_;
  bool in_flight_ = false;
  bool idle_closed_ = false;  // closed by the keep-alive timeout
  ReceivedRequest request_;
  Behaviour behaviour_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> response_;
  std::string garbage_;
  std::string halves_;  // an answer written in two halves (pause_mid_answer)
};

void TestServer::State::do_accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        beast::bind_front_handler(&State::on_accept, this));
}

void TestServer::State::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;  // stop_accepting() closed the acceptor
  if (ec) {
    fail(ec, "accept");
  } else {
    const auto number = ++accepted;
    raise_max(max_open, ++open);
    std::make_shared<Session>(std::move(socket), *this, number)->run();
  }
  if (acceptor.is_open()) do_accept();
}

Behaviour TestServer::State::choose(const ReceivedRequest& request) const {
  Handler h;
  {
    std::lock_guard lock(mutex);
    for (auto it = rules.rbegin(); it != rules.rend(); ++it)
      if (it->first == request.target) return it->second;
    h = handler;
  }
  if (!h) return Behaviour{};
  try {
    return h(request);
  } catch (const std::exception& e) {
    return Behaviour::respond(500, e.what());
  } catch (...) {
    return Behaviour::respond(500, "handler threw");
  }
}

void TestServer::State::log(const ReceivedRequest& request) {
  {
    std::lock_guard lock(mutex);
    requests.push_back(request);
  }
  logged.notify_all();
}

void TestServer::State::fail(beast::error_code ec, const char* what) {
  // Shutting down cancels everything; that is not a failure of the server.
  if (ec == net::error::operation_aborted) return;
  ++errors;
  std::lock_guard lock(mutex);
  last_error = std::string(what) + ": " + ec.message();
}

TestServer::TestServer() : TestServer(TestServerOptions{}) {}

TestServer::TestServer(TestServerOptions options) {
  if (options.threads == 0) throw std::invalid_argument("TestServer: threads must be at least 1");
  state_ = std::make_unique<State>(options);
  auto& acceptor = state_->acceptor;
  const tcp::endpoint endpoint(net::ip::address_v4::loopback(), 0);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  state_->endpoint = acceptor.local_endpoint();
  state_->do_accept();
  for (unsigned i = 0; i < options.threads; ++i)
    state_->threads.emplace_back([s = state_.get()] { s->ioc.run(); });
}

TestServer::~TestServer() {
  state_->ioc.stop();
  for (auto& t : state_->threads) t.join();
  // state_'s destructor now drops the acceptor, then the io_context with the sessions in it.
}

int TestServer::port() const { return state_->endpoint.port(); }

std::string TestServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
}

void TestServer::set_handler(Handler handler) {
  std::lock_guard lock(state_->mutex);
  state_->handler = std::move(handler);
}

void TestServer::set_behaviour(Behaviour b) {
  set_handler([b = std::move(b)](const ReceivedRequest&) { return b; });
}

void TestServer::on(std::string target, Behaviour b) {
  std::lock_guard lock(state_->mutex);
  state_->rules.emplace_back(std::move(target), std::move(b));
}

void TestServer::clear_rules() {
  std::lock_guard lock(state_->mutex);
  state_->rules.clear();
}

void TestServer::stop_accepting() {
  std::promise<void> done;
  net::post(state_->acceptor.get_executor(), [this, &done] {
    beast::error_code ec;
    state_->acceptor.close(ec);
    done.set_value();
  });
  done.get_future().get();
}

void TestServer::resume_accepting() {
  std::promise<void> done;
  net::post(state_->acceptor.get_executor(), [this, &done] {
    auto& acceptor = state_->acceptor;
    if (acceptor.is_open()) return done.set_value();
    beast::error_code ec;
    acceptor.open(state_->endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(state_->endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      acceptor.close(ignored);
      return done.set_exception(
          std::make_exception_ptr(std::system_error(ec, "TestServer::resume_accepting")));
    }
    state_->do_accept();
    done.set_value();
  });
  done.get_future().get();
}

std::vector<ReceivedRequest> TestServer::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

std::size_t TestServer::request_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests.size();
}

std::size_t TestServer::request_count(std::string_view target) const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(
      std::count_if(state_->requests.begin(), state_->requests.end(),
                    [&](const ReceivedRequest& r) { return r.target == target; }));
}

bool TestServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  return state_->logged.wait_for(lock, timeout, [&] { return state_->requests.size() >= n; });
}

std::uint64_t TestServer::connections_accepted() const { return state_->accepted; }
std::uint64_t TestServer::open_connections() const { return state_->open; }
std::uint64_t TestServer::max_open_connections() const { return state_->max_open; }
std::uint64_t TestServer::in_flight() const { return state_->in_flight; }
std::uint64_t TestServer::max_in_flight() const { return state_->max_in_flight; }
std::uint64_t TestServer::error_count() const { return state_->errors; }

std::string TestServer::last_error() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_error;
}

}  // namespace reprise::test
