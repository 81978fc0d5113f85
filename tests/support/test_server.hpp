#pragma once
// An in-process HTTP/1.1 server (Beast on Asio) for integration tests that need a server which
// misbehaves on purpose: slow answers, resets, silent closes, garbage, chosen per request.
//
// It listens on 127.0.0.1 on a port the kernel picks, runs its own io_context on
// TestServerOptions::threads threads, and is stopped and joined by its destructor; requests still
// waiting (a long delay, a read in progress) are abandoned then, not answered.
//
// Every request that arrives whole is logged (ReceivedRequest) before it is answered, so a test
// can wait for it with wait_for_requests() and then look at in_flight(). What the server does
// with a request is a Behaviour: rules set with on() are tried first (exact target match, the
// latest rule for a target wins), then the handler set with set_handler(), then the default —
// 200, Content-Type text/plain, body "ok <target>".
//
// Request parsing: HTTP/1.0 and 1.1, keep-alive (one request at a time, pipelined requests are
// read in turn), Content-Length and chunked bodies, "Expect: 100-continue" answered with 100.
// A request over the header or body limit, or one that does not parse, is not logged: the
// connection is closed and error_count() goes up.
//
// All members may be called from any thread. A handler runs on a server thread and must not call
// the ones that wait on it: stop_accepting(), resume_accepting(), wait_for_requests().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reprise::test {

using Header = std::pair<std::string, std::string>;  // name, value

// One request as the server received it.
struct ReceivedRequest {
  std::string method;                              // "GET", as sent
  std::string target;                              // "/a?b=1", as sent
  unsigned version = 11;                           // 10 or 11
  std::vector<Header> headers;                     // in arrival order, names as sent
  std::string body;                                // de-chunked
  bool chunked = false;                            // the body came with Transfer-Encoding: chunked
  std::uint64_t connection = 0;                    // 1 for the first connection accepted, ...
  std::uint64_t sequence = 0;                      // 1 for the first request on its connection, ...
  std::chrono::steady_clock::time_point arrived;   // when its header was parsed

  // The first value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// What the server does with one request. After `delay` (an Asio timer: the server keeps serving
// other connections meanwhile), it performs `action`.
struct Behaviour {
  enum class Action {
    respond,  // send the response described by the fields below
    reset,    // abort: SO_LINGER 0 and close, so the client sees ECONNRESET and no answer
    close,    // close gracefully (FIN) without answering
    garbage,  // write `body` as raw bytes (not HTTP), then close gracefully
  };

  Action action = Action::respond;
  std::chrono::milliseconds delay{0};
  unsigned status = 200;
  std::optional<std::string> body;            // nullopt: "ok " + target (garbage: garbage_bytes)
  std::string content_type = "text/plain";    // empty: no Content-Type
  std::vector<Header> headers;                // added in order; repeats allowed (Set-Cookie)
  bool chunked = false;                       // Transfer-Encoding: chunked, not Content-Length
  bool keep_alive = true;                     // false: Connection: close, then close
  // Close (FIN) once answered although the answer allows another request: a server whose
  // keep-alive timeout fires just then.
  bool close_after = false;
  // Non-zero: the answer is written in two halves with this pause between them, so the client
  // reads it in parts (the first half may end inside the head or the body).
  std::chrono::milliseconds pause_mid_answer{0};

  // The bytes a garbage action writes when `body` is unset: not a status line any HTTP/1.x
  // parser accepts, and not valid UTF-8.
  static constexpr std::string_view garbage_bytes = "GARBAGE\x01\x02\xff not an HTTP response\r\n\r\n";

  static Behaviour ok() { return {}; }
  static Behaviour respond(unsigned status, std::string body, std::string content_type = "text/plain");
  static Behaviour json(std::string json, unsigned status = 200);  // Content-Type application/json
  static Behaviour reset_connection();
  static Behaviour close_connection();
  static Behaviour garbage(std::string bytes = std::string(garbage_bytes));

  // Chainable on temporaries and on named values:
  //   server.on("/slow", Behaviour::json(R"({"a":1})").after(200ms).with_header("Set-Cookie", "s=1"));
  Behaviour& after(std::chrono::milliseconds d) & { delay = d; return *this; }
  Behaviour after(std::chrono::milliseconds d) && { delay = d; return std::move(*this); }
  Behaviour& with_header(std::string name, std::string value) & {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  Behaviour with_header(std::string name, std::string value) && {
    headers.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
  }
};

// Called on a server thread for each request without a matching rule. It may run concurrently
// with itself when threads > 1 or connections overlap; an exception it throws becomes a 500
// whose body is the exception's what().
using Handler = std::function<Behaviour(const ReceivedRequest&)>;

struct TestServerOptions {
  unsigned threads = 1;                        // io_context threads; 0 throws
  std::size_t header_limit = 64 * 1024;        // request line and headers, bytes
  std::uint64_t body_limit = 8 * 1024 * 1024;  // request body, bytes
  // > 0: a connection idle this long between requests is closed (as nginx's keepalive_timeout
  // does), without telling the client; a request it writes afterwards meets a reset.
  std::chrono::milliseconds keep_alive_timeout{0};
};

class TestServer {
 public:
  // Binds 127.0.0.1:0, starts accepting and starts the threads. Throws std::system_error if the
  // socket cannot be bound, std::invalid_argument if options.threads is 0.
  TestServer();
  explicit TestServer(TestServerOptions options);
  // Stops the io_context and joins its threads; open connections are closed without an answer.
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const;
  std::string url(std::string_view path = "/") const;  // "http://127.0.0.1:<port>" + path

  // --- behaviour (thread-safe; applies to requests whose header arrives afterwards) ---
  void set_handler(Handler handler);      // empty: the default
  void set_behaviour(Behaviour b);        // every request without a rule gets `b`
  void on(std::string target, Behaviour b);  // exact target match, checked before the handler
  void clear_rules();

  // --- accepting ---
  // Closes the listening socket: new connections are refused (ECONNREFUSED) until
  // resume_accepting(); established connections are served as before. Returns once closed.
  void stop_accepting();
  // Listens again on the same port. Throws std::system_error if the port has been taken.
  void resume_accepting();

  // --- request log ---
  std::vector<ReceivedRequest> requests() const;  // a copy, in the order requests were read
  std::size_t request_count() const;
  std::size_t request_count(std::string_view target) const;  // exact target match
  // Blocks until at least `n` requests have been logged; false if `timeout` passes first.
  bool wait_for_requests(std::size_t n,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // --- counters ---
  std::uint64_t connections_accepted() const;
  std::uint64_t open_connections() const;
  std::uint64_t max_open_connections() const;  // most ever open at once
  // A request is in flight from the moment its header is parsed until its response is fully
  // written (or, for reset/close/garbage, until the connection is closed).
  std::uint64_t in_flight() const;
  std::uint64_t max_in_flight() const;  // most ever in flight at once
  // Connections that ended abnormally: a request that does not parse or exceeds a limit, a
  // client that goes away in the middle of a request or before its answer is written, a failed
  // accept. A client closing or resetting between requests is the normal end and not counted.
  std::uint64_t error_count() const;
  std::string last_error() const;  // "<what>: <message>" of the latest, or empty

 private:
  struct State;
  class Session;
  std::unique_ptr<State> state_;
};

}  // namespace reprise::test
