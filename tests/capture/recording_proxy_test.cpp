// The recording proxy against real upstreams on loopback: the in-process TestServer (which can
// be slow, reset, close or answer garbage on purpose) and a second proxy speaking TLS. What the
// client sends and receives must be what the trace holds, byte for byte on bodies.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <nlohmann/json.hpp>

#include "reprise/capture/recording_proxy.hpp"
#include "reprise/format/reader.hpp"
#include "support/http_client.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"

using namespace reprise;
using namespace reprise::test;
using namespace std::chrono_literals;

namespace {

struct Recorded {
  std::string method, target, request_body, response_body;
  unsigned status = 0;
  std::uint32_t flags = 0;
  std::uint64_t connection = 0, session = 0;
};

std::vector<Recorded> read_trace(const std::string& path) {
  std::vector<Recorded> out;
  auto reader = format::Reader::open(path);
  REQUIRE(reader);
  format::Record record;
  for (;;) {
    auto more = (*reader)->next(record);
    REQUIRE(more);
    if (!*more) break;
    const auto* x = record.exchange();
    Recorded r;
    r.method = x->request()->method()->str();
    r.target = x->request()->target()->str();
    if (x->request()->body()) r.request_body.assign(x->request()->body()->begin(), x->request()->body()->end());
    if (x->response()) {
      r.status = x->response()->status();
      if (x->response()->body()) r.response_body.assign(x->response()->body()->begin(), x->response()->body()->end());
    }
    r.flags = static_cast<std::uint32_t>(x->flags());
    r.connection = x->connection_id();
    r.session = x->session_id();
    out.push_back(std::move(r));
  }
  return out;
}

// A proxy in this process in front of `upstream_url`, recording into a temporary trace.
struct Rig {
  TempDir dir;
  std::string trace = dir.file("proxy.rtrace");
  std::unique_ptr<format::Writer> writer;
  std::unique_ptr<capture::RecordingProxy> proxy;
  int port = 0;

  explicit Rig(const std::string& upstream_url, capture::ProxyOptions o = {}) {
    format::fb::FileHeaderT header;
    header.kind = format::FileKind::Trace;
    header.source = "proxy-test";
    auto w = format::Writer::open(trace, std::move(header));
    REQUIRE(w);
    writer = std::move(*w);
    o.listen = "127.0.0.1:0";
    o.upstream = upstream_url;
    if (o.threads == 0) o.threads = 2;
    auto p = capture::RecordingProxy::start(std::move(o), writer.get());
    INFO((p ? "" : p.error().message()));
    REQUIRE(p);
    proxy = std::move(*p);
    const auto bound = proxy->listen_address();
    port = std::stoi(bound.substr(bound.rfind(':') + 1));
  }
  // Stops the proxy and returns what it recorded.
  std::vector<Recorded> finish() {
    proxy->stop();
    REQUIRE(proxy->finish());
    REQUIRE(writer->close("test"));
    return read_trace(trace);
  }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

// A Content-Length in a request head as the proxy forwards it, else 0.
std::size_t content_length(const std::string& head) {
  const auto at = head.find("Content-Length: ");
  return at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
}

// An upstream that answers each request on a connection with `pieces`, written one at a time
// with a pause between them (an answer split across the proxy's reads), for `connections`
// connections in turn. It never sends 100 Continue: it answers once the request's body
// (Content-Length) is in, or at once after the head with `answer_at_head` (a server that refuses
// by the head; the body's bytes are then read as the next request's first). `close_idle`: each
// connection is closed 50 ms after its first answer (a keep-alive timeout shorter than the
// proxy's), else served until the proxy closes it.
struct ScriptedUpstream {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::atomic<int> served{0};
  std::thread thread;

  ScriptedUpstream(std::vector<std::string> pieces, int connections, bool close_idle = false,
                   bool answer_at_head = false) {
    thread = std::thread([this, pieces = std::move(pieces), connections, close_idle, answer_at_head] {
      namespace asio = boost::asio;
      for (int i = 0; i < connections; ++i) {
        asio::ip::tcp::socket s(io);
        acceptor.accept(s);
        std::string in;
        boost::system::error_code ec;
        while (!ec) {
          char buf[4096];
          in.append(buf, s.read_some(asio::buffer(buf), ec));
          for (auto end = in.find("\r\n\r\n"); end != std::string::npos; end = in.find("\r\n\r\n")) {
            const std::size_t whole = end + 4 + (answer_at_head ? 0 : content_length(in.substr(0, end)));
            if (in.size() < whole) break;
            in.erase(0, whole);
            for (std::size_t p = 0; p < pieces.size(); ++p) {
              if (p > 0) std::this_thread::sleep_for(50ms);
              asio::write(s, asio::buffer(pieces[p]), ec);
            }
            ++served;
            if (close_idle) {
              std::this_thread::sleep_for(50ms);
              ec = asio::error::eof;  // the socket closes: the proxy's pooled connection is stale
              break;
            }
          }
        }
      }
    });
  }
  ~ScriptedUpstream() { thread.join(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
};

// `reprise proxy` (the built binary) as a process, started by /bin/sh after `shell_prefix`
// (limits set with ulimit), listening on a free port; its counters (--stats-json) and standard
// error are kept in files.
struct ProxyProcess {
  TempDir dir;
  int port = free_port();
  std::string stats = dir.file("stats.json");
  std::string err = dir.file("stderr");
  Background process;

  ProxyProcess(const std::string& shell_prefix, const std::string& args)
      : process({"/bin/sh", "-c",
                 shell_prefix + " exec \"$0\" proxy --listen 127.0.0.1:" + std::to_string(port) +
                     " --stats-json " + stats + " " + args + " 2>" + err,
                 reprise_bin()}) {}
  nlohmann::json counters() const { return nlohmann::json::parse(run({"/bin/cat", stats}).out); }
  std::string stderr_text() const { return run({"/bin/cat", err}).out; }
};

// An upstream that never accepts: the kernel completes connections into its backlog, so a
// connect succeeds, but nothing is read (what is written stalls once the buffers fill) and
// nothing is answered (a TLS handshake never completes).
struct SilentUpstream {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }
};

// True once `done` holds, false if `limit` passes first.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 3000ms) {
  for (const auto until = std::chrono::steady_clock::now() + limit; !done();) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The connection does what answer `a` told the client: after keep-alive, `next` (if given) is
// sent and answered on it; after close, the proxy closes it with nothing more.
bool kept_as_announced(HttpClient& c, const HttpAnswer& a, const std::string& next = {}) {
  try {
    if (!a.keep_alive) return c.read_until_close().empty();
    if (!next.empty()) c.send_raw(next);
    return c.read_answer().status != 0;
  } catch (const std::exception&) {
    return false;  // closed although told keep-alive
  }
}

// Through the proxy at `port`: GET /first, a wait long enough for a ScriptedUpstream with
// close_idle to close the pooled connection, then METHOD TARGET (a POST with a body): its status.
unsigned status_after_stale_pool(int port, const std::string& method, const std::string& target) {
  HttpClient c(port);
  CHECK(c.request("GET", "/first").status == 200);
  std::this_thread::sleep_for(200ms);
  return c.request(method, target, {}, method == "POST" ? "one order" : "").status;
}

}  // namespace

TEST_CASE("proxy: bodies pass byte for byte both ways and the trace holds exactly what the client saw",
          "[capture][proxy][integration]") {
  TestServer upstream;
  const std::string big = pattern(3 << 20);
  upstream.on("/big", Behaviour::respond(200, big, "application/octet-stream"));
  upstream.set_handler([](const ReceivedRequest& r) { return Behaviour::respond(201, "echo:" + r.body); });
  Rig rig(upstream.url(""));
  {
    HttpClient c(rig.port);
    CHECK(c.request("GET", "/big").body == big);
    const std::string upload = pattern(1 << 20);
    const auto posted = c.request("POST", "/upload", {"Content-Type: application/octet-stream"}, upload);
    CHECK(posted.status == 201);
    CHECK(posted.body == "echo:" + upload);
    // A chunked request body, and hop-by-hop fields that must not reach the upstream.
    c.send_raw("PUT /put HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: X-Hop\r\n"
               "X-Hop: secret\r\nKeep-Alive: timeout=5\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    const auto put = c.read_answer();
    CHECK(put.body == "echo:hello world");
    CHECK(c.request("HEAD", "/big").body.empty());
  }
  const auto seen = upstream.requests();
  REQUIRE(seen.size() == 4);
  CHECK(seen[2].chunked);
  CHECK(!seen[2].header("X-Hop"));
  CHECK(!seen[2].header("Keep-Alive"));
  CHECK(upstream.connections_accepted() == 1);  // one keep-alive upstream connection served all

  const auto trace = rig.finish();
  REQUIRE(trace.size() == 4);
  CHECK(trace[0].response_body.size() == (1u << 20));  // the recorded copy stops at --max-body
  CHECK((trace[0].flags & static_cast<std::uint32_t>(format::fb::ExchangeFlags::ResponseBodyTruncated)) != 0);
  CHECK(trace[1].request_body.size() == (1u << 20));
  CHECK(trace[1].response_body.substr(0, 5) == "echo:");
  CHECK(trace[2].request_body == "hello world");
  CHECK(trace[2].response_body == "echo:hello world");
  CHECK(trace[3].method == "HEAD");
  for (const auto& r : trace) CHECK(r.connection == trace[0].connection);
}

TEST_CASE("proxy: in front of nginx the trace holds exactly what nginx logged, and X-Forwarded-For is added",
          "[capture][proxy][integration]") {
  if (!Nginx::available()) {
    WARN("skipped: needs nginx (tests/run.sh installs it)");
    return;
  }
  Nginx nginx;
  capture::ProxyOptions o;
  o.x_forwarded_for = true;
  Rig rig(nginx.url(""), o);
  std::vector<std::pair<std::string, std::string>> asked = {
      {"GET", "/static/1000000"}, {"HEAD", "/static/10000"}, {"POST", "/echo"},
      {"GET", "/status/404"},     {"GET", "/status/500"},    {"GET", "/static/0"}};
  {
    HttpClient c(rig.port);
    for (const auto& [method, target] : asked) {
      const auto a = c.request(method, target, {}, method == "POST" ? pattern(50000) : "");
      if (target == "/static/1000000") CHECK(a.body.size() == 1000000);
    }
  }
  const auto trace = rig.finish();
  const auto log = nginx.access_log();
  REQUIRE(log.size() == asked.size());
  REQUIRE(trace.size() == asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    INFO(asked[i].second);
    CHECK(trace[i].method == log[i].method);
    CHECK(trace[i].target == log[i].uri);
    CHECK(static_cast<int>(trace[i].status) == log[i].status);
    if (trace[i].method != "HEAD") CHECK(static_cast<long>(trace[i].response_body.size()) == log[i].body_bytes_sent);
  }
  CHECK(trace[2].request_body == pattern(50000));
}

TEST_CASE("proxy: X-Forwarded-For carries the client's address when asked", "[capture][proxy][integration]") {
  TestServer upstream;
  capture::ProxyOptions o;
  o.x_forwarded_for = true;
  Rig rig(upstream.url(""), o);
  HttpClient c(rig.port);
  CHECK(c.request("GET", "/who").status == 200);
  REQUIRE(upstream.requests().size() == 1);
  CHECK(upstream.requests()[0].header("X-Forwarded-For") == std::optional<std::string>("127.0.0.1"));
  rig.finish();
}

TEST_CASE("proxy: pipelined requests are answered in order, a HEAD among them",
          "[capture][proxy][integration]") {
  TestServer upstream;
  Rig rig(upstream.url(""));
  HttpClient c(rig.port);
  c.send_raw("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(c.read_answer().body == "ok /1");
  CHECK(c.read_answer(true).status == 200);
  CHECK(c.read_answer().body == "ok /3");
  const auto trace = rig.finish();
  REQUIRE(trace.size() == 3);
  CHECK(trace[0].target == "/1");
  CHECK(trace[1].target == "/2");
  CHECK(trace[2].target == "/3");
  CHECK(trace[2].response_body == "ok /3");
}

TEST_CASE("regression: a request whose first bytes arrive alone does not spin the proxy",
          "[capture][proxy][integration]") {
  TestServer upstream;
  Rig rig(upstream.url(""));
  HttpClient c(rig.port);
  CHECK(c.request("GET", "/one").status == 200);
  for (const std::string part : {"G", "ET /tw", "o HTTP/1.1\r\nHo", "st: a\r\n", "\r\n"}) {
    c.send_raw(part);
    std::this_thread::sleep_for(30ms);
  }
  CHECK(c.read_answer().body == "ok /two");
  CHECK(rig.finish().size() == 2);
}

TEST_CASE("proxy: never an open proxy, no tunnels, limits answered with a status",
          "[capture][proxy][integration]") {
  TestServer upstream;
  capture::ProxyOptions o;
  o.header_limit = 4096;
  Rig rig(upstream.url(""), o);
  auto status_of = [&](const std::string& raw) {
    HttpClient c(rig.port);
    c.send_raw(raw);
    return c.read_answer().status;
  };
  CHECK(status_of("GET http://evil.example/x HTTP/1.1\r\nHost: evil.example\r\n\r\n") == 400);
  CHECK(status_of("CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n") == 501);
  CHECK(status_of("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n") == 501);
  CHECK(status_of("GET /h HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(8000, 'x') + "\r\n\r\n") == 431);
  CHECK(status_of("NOT HTTP AT ALL\r\n\r\n") == 400);
  // The upstream's own authority in absolute form is forwarded, as origin-form.
  CHECK(status_of("GET " + upstream.url("/abs") + " HTTP/1.1\r\nHost: a\r\n\r\n") == 200);
  REQUIRE(upstream.requests().size() == 1);
  CHECK(upstream.requests()[0].target == "/abs");
  const auto& stats = rig.proxy->stats();
  CHECK(stats.bad_requests == 2);
  CHECK(stats.upgrades_refused == 2);
  CHECK(stats.header_too_large == 1);
  const auto trace = rig.finish();
  CHECK(trace.size() == 6);
}

TEST_CASE("proxy: a client past --max-connections is closed unanswered, and served once one leaves",
          "[capture][proxy][integration]") {
  TestServer upstream;
  capture::ProxyOptions o;
  o.max_client_connections = 2;
  Rig rig(upstream.url(""), o);
  auto a = std::make_unique<HttpClient>(rig.port);
  HttpClient b(rig.port);
  CHECK(a->request("GET", "/a").status == 200);
  CHECK(b.request("GET", "/b").status == 200);
  {
    HttpClient c(rig.port);
    c.send_raw("GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    // Refused with 400 when the line came with the head, else just closed (mid-body).
    const auto got = c.read_until_close();
    INFO(got);
    CHECK((got.empty() || got.rfind("HTTP/1.1 400", 0) == 0));
  }
  CHECK(rig.proxy->stats().connections_refused == 1);
  // A leaves; its session ends when the proxy reads the close, and the next client gets in.
  a.reset();
  bool served = false;
  for (auto until = std::chrono::steady_clock::now() + 5s; !served && std::chrono::steady_clock::now() < until;) {
    HttpClient d(rig.port);
    d.send_raw("GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    served = d.read_until_close().rfind("HTTP/1.1 200", 0) == 0;
    if (!served) std::this_thread::sleep_for(10ms);
  }
  CHECK(served);
  CHECK(b.request("GET", "/b2").status == 200);
  const auto trace = rig.finish();
  CHECK(trace.size() == 4);
  for (const auto& x : trace) CHECK(x.target != "/c");
}

TEST_CASE("proxy: an upstream that fails answers 502 or 504, recorded and counted",
          "[capture][proxy][integration]") {
  TestServer upstream;
  upstream.on("/reset", Behaviour::reset_connection());
  upstream.on("/close", Behaviour::close_connection());
  upstream.on("/garbage", Behaviour::garbage());
  upstream.on("/slow", Behaviour::ok().after(1500ms));
  capture::ProxyOptions o;
  o.response_timeout_ns = 300'000'000;
  Rig rig(upstream.url(""), o);
  auto status_of = [&](const std::string& target) {
    HttpClient c(rig.port);
    return c.request("GET", target).status;
  };
  CHECK(status_of("/reset") == 502);
  CHECK(status_of("/close") == 502);
  CHECK(status_of("/garbage") == 502);
  CHECK(status_of("/slow") == 504);
  CHECK(status_of("/fine") == 200);
  const auto& s = rig.proxy->stats();
  CHECK(s.upstream_resets == 2);
  CHECK(s.upstream_bad_responses == 1);
  CHECK(s.upstream_timeouts == 1);
  const auto trace = rig.finish();
  REQUIRE(trace.size() == 5);
  CHECK(trace[0].status == 502);
  CHECK(trace[3].status == 504);
  CHECK(trace[4].status == 200);

  // Nothing listening upstream at all.
  const int dead = free_port();
  Rig refused("http://127.0.0.1:" + std::to_string(dead));
  HttpClient c(refused.port);
  CHECK(c.request("GET", "/").status == 502);
  CHECK(refused.proxy->stats().upstream_connect_failures == 1);
}

TEST_CASE("proxy: a pooled connection the upstream closed while idle is retried on a fresh one",
          "[capture][proxy][integration]") {
  ScriptedUpstream upstream({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, 2, true);
  Rig rig(upstream.url());
  CHECK(status_after_stale_pool(rig.port, "GET", "/second") == 200);
  CHECK(rig.proxy->stats().upstream_retries == 1);
  CHECK(rig.finish().size() == 2);
  CHECK(upstream.served == 2);
}

TEST_CASE("proxy: a POST is never sent twice, even when its pooled connection turns out stale",
          "[capture][proxy][integration]") {
  // RFC 9112 9.3.1: the upstream may have acted on it before the connection failed.
  ScriptedUpstream upstream({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, 1, true);
  Rig rig(upstream.url());
  CHECK(status_after_stale_pool(rig.port, "POST", "/order") == 502);
  CHECK(rig.proxy->stats().upstream_retries == 0);
  CHECK(rig.finish().size() == 2);
  CHECK(upstream.served == 1);
}

TEST_CASE("regression: a failed upstream connect starts the requests waiting for a connection",
          "[capture][proxy][integration]") {
  // They waited for the response timeout and got 504 instead of their own attempt.
  SilentUpstream upstream;  // TLS: the handshake never completes, the connect times out
  capture::ProxyOptions o;
  o.threads = 1;
  o.max_upstream_connections = 1;
  o.connect_timeout_ns = 300'000'000;
  o.response_timeout_ns = 3'000'000'000;
  Rig rig(upstream.url("https"), o);
  HttpClient a(rig.port), b(rig.port);
  const auto start = std::chrono::steady_clock::now();
  a.send_raw("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  std::this_thread::sleep_for(100ms);  // /a holds the one connection: /b waits
  b.send_raw("GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(a.read_answer().status == 502);
  CHECK(b.read_answer().status == 502);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(rig.proxy->stats().upstream_waits == 1);
  CHECK(rig.proxy->stats().upstream_connect_failures == 2);
  rig.finish();
}

TEST_CASE("regression: requests that gave up waiting for an upstream connection get no connection later",
          "[capture][proxy][integration]") {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  // An upstream whose listen queue is full: the kernel drops further SYNs, so a connect to it
  // hangs until the proxy's connect timeout.
  asio::io_context io;
  tcp::acceptor full(io);
  full.open(tcp::v4());
  full.bind({asio::ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  // Non-blocking connects that fill it (asio's connect() would wait for the one that hangs).
  std::vector<tcp::socket> fillers;
  sockaddr_in upstream_addr{};
  upstream_addr.sin_family = AF_INET;
  upstream_addr.sin_port = htons(full.local_endpoint().port());
  upstream_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    fillers.emplace_back(io, tcp::v4(), fd);  // closes it
    (void)::connect(fd, reinterpret_cast<const sockaddr*>(&upstream_addr), sizeof upstream_addr);
  }
  capture::ProxyOptions o;
  o.threads = 1;
  o.max_upstream_connections = 1;
  o.connect_timeout_ns = 400'000'000;
  o.response_timeout_ns = 150'000'000;
  Rig rig("http://127.0.0.1:" + std::to_string(full.local_endpoint().port()), o);
  // The first request's connect hangs; the others wait for its place. All give up with a 504
  // long before the connect times out, and leave.
  std::vector<std::thread> clients;
  for (int i = 0; i < 5; ++i)
    clients.emplace_back([&] {
      HttpClient c(rig.port);
      CHECK(c.request("GET", "/").status == 504);
    });
  for (auto& c : clients) c.join();
  std::this_thread::sleep_for(1500ms);  // several connect timeouts
  CHECK(rig.proxy->stats().upstream_connections == 1);  // none for the requests that left
  rig.finish();
}

TEST_CASE("regression: a retry on a fresh connection stays within --max-upstream-connections",
          "[capture][proxy][integration]") {
  // The stale connection's slot went to a waiting request and the retry opened one more.
  TestServer upstream;
  upstream.on("/close", Behaviour::close_connection().after(200ms));  // fails after the wait: retried
  capture::ProxyOptions o;
  o.threads = 1;
  o.max_upstream_connections = 1;
  Rig rig(upstream.url(""), o);
  HttpClient a(rig.port), b(rig.port);
  CHECK(a.request("GET", "/warm").status == 200);  // pooled: the next request reuses it
  a.send_raw("GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
  std::this_thread::sleep_for(50ms);
  b.send_raw("GET /b HTTP/1.1\r\nHost: a\r\n\r\n");  // waits for /close's connection
  CHECK(a.read_answer().status == 502);             // closed again on the fresh one
  CHECK(b.read_answer().status == 200);
  CHECK(rig.proxy->stats().upstream_retries == 1);
  CHECK(rig.proxy->stats().upstream_waits == 1);
  CHECK(upstream.max_open_connections() == 1);
  rig.finish();
}

TEST_CASE("proxy: an answer split across reads inside its head or a chunk-size line is relayed whole",
          "[capture][proxy][integration]") {
  // Regression: the bytes left unparsed after such a read were parsed again, without reading,
  // forever; the worker spun and the proxy could not stop.
  SECTION("a chunked body whose last chunk comes later") {
    ScriptedUpstream upstream({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "0\r\n\r\n"}, 1);
    Rig rig(upstream.url());
    {
      HttpClient c(rig.port);
      CHECK(c.request("GET", "/a").body == "hello");
      CHECK(c.request("GET", "/b").body == "hello");  // and the connection goes on
    }
    const auto trace = rig.finish();
    REQUIRE(trace.size() == 2);
    CHECK(trace[1].response_body == "hello");
  }
  SECTION("a head cut in the middle of a field") {
    ScriptedUpstream upstream({"HTTP/1.1 200 OK\r\nContent-Le", "ngth: 2\r\n\r\nok"}, 1);
    Rig rig(upstream.url());
    {
      HttpClient c(rig.port);
      CHECK(c.request("GET", "/a").body == "ok");
    }
    CHECK(rig.finish().size() == 1);
  }
}

TEST_CASE("proxy: Connection cannot strip a body's framing, and chunk lines are bounded",
          "[capture][proxy][integration]") {
  TestServer upstream;
  upstream.set_handler([](const ReceivedRequest& r) { return Behaviour::respond(200, "got " + r.body); });
  capture::ProxyOptions o;
  o.header_limit = 4096;
  Rig rig(upstream.url(""), o);
  {
    // Without Content-Length the upstream would take the body for a second request.
    const std::string smuggled = "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
    HttpClient c(rig.port);
    c.send_raw("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(smuggled.size()) +
               "\r\nConnection: Content-Length, Host\r\n\r\n" + smuggled);
    CHECK(c.read_answer().body == "got " + smuggled);
  }
  {
    // A chunk-size line that never ends: refused once it passes the header limit, not held.
    HttpClient c(rig.port);
    try {
      c.send_raw("POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                 std::string(256 * 1024, 'a'));
    } catch (const std::exception&) {
      // the proxy closed while the line was still coming: what is expected
    }
    // Refused with 400 when the line came with the head, else just closed (mid-body).
    const auto got = c.read_until_close();
    INFO(got);
    CHECK((got.empty() || got.rfind("HTTP/1.1 400", 0) == 0));
  }
  const auto seen = upstream.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/form");
  CHECK(seen[0].header("Host").has_value());
  CHECK(rig.proxy->stats().bad_requests == 1);
  rig.finish();
}

TEST_CASE("regression: a client that stops reading its answer is a client timeout, not an upstream one",
          "[capture][proxy][integration]") {
  TestServer upstream;
  upstream.on("/big", Behaviour::respond(200, std::string(32 << 20, 'x')));  // more than the socket buffers hold
  capture::ProxyOptions o;
  o.response_timeout_ns = 300'000'000;
  Rig rig(upstream.url(""), o);
  HttpClient c(rig.port);
  c.send_raw("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");  // and never read
  const auto& s = rig.proxy->stats();
  CHECK(eventually([&] { return s.client_timeouts + s.upstream_timeouts > 0; }));
  CHECK(s.client_timeouts == 1);
  CHECK(s.upstream_timeouts == 0);
  rig.finish();
}

TEST_CASE("regression: a client that leaves mid-exchange is still in the trace, flagged",
          "[capture][proxy][integration]") {
  using Flags = format::fb::ExchangeFlags;
  const auto has = [](const Recorded& r, Flags f) { return (r.flags & static_cast<std::uint32_t>(f)) != 0; };
  TestServer upstream;
  upstream.on("/big", Behaviour::respond(200, std::string(32 << 20, 'x')));  // more than the socket buffers hold
  Rig rig(upstream.url(""));
  const auto& s = rig.proxy->stats();

  SECTION("during its request body: the head went upstream, the body stopped") {
    {
      HttpClient c(rig.port);
      c.send_raw("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789");
      CHECK(eventually([&] { return s.bytes_from_clients > 0; }));
    }  // closed with 90 bytes of its body unsent
    CHECK(eventually([&] { return s.client_aborts == 1; }));
    const auto trace = rig.finish();
    REQUIRE(trace.size() == 1);
    CHECK(trace[0].method == "POST");
    CHECK(trace[0].request_body == "0123456789");
    CHECK(has(trace[0], Flags::RequestIncomplete));
    CHECK(has(trace[0], Flags::NoResponse));
  }
  SECTION("during its answer: a reset while the proxy writes it") {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket c(io);
    c.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(rig.port)});
    asio::write(c, asio::buffer(std::string("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")));
    CHECK(eventually([&] { return s.bytes_to_clients > 0 || upstream.request_count() == 1; }));
    std::this_thread::sleep_for(100ms);  // the socket buffers fill; the proxy's write waits
    c.set_option(asio::socket_base::linger(true, 0));
    c.close();  // RST
    CHECK(eventually([&] { return s.client_aborts == 1; }));
    const auto trace = rig.finish();
    REQUIRE(trace.size() == 1);
    CHECK(trace[0].target == "/big");
    CHECK(trace[0].status == 200);
    CHECK(has(trace[0], Flags::ResponseIncomplete));
    CHECK_FALSE(has(trace[0], Flags::NoResponse));
  }
}

TEST_CASE("regression: an upstream that stops reading a request body is an upstream timeout, not a client one",
          "[capture][proxy][integration]") {
  SilentUpstream upstream;
  capture::ProxyOptions o;
  o.request_timeout_ns = 300'000'000;
  Rig rig(upstream.url(), o);
  HttpClient c(rig.port);
  // The body goes until the buffers on the way to the upstream are full, then stalls.
  std::thread sender([&] {
    try {
      c.send_raw("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(256 << 20) + "\r\n\r\n");
      const std::string mib(1 << 20, 'b');
      for (int i = 0; i < 256; ++i) c.send_raw(mib);
    } catch (const std::exception&) {
      // the proxy closed: what is expected
    }
  });
  const auto& s = rig.proxy->stats();
  CHECK(eventually([&] { return s.client_timeouts + s.upstream_timeouts > 0; }));
  CHECK(s.upstream_timeouts == 1);
  CHECK(s.client_timeouts == 0);
  sender.join();
  rig.finish();
}

TEST_CASE("proxy: a head that trickles in is cut at the request timeout of its first byte",
          "[capture][proxy][integration]") {
  TestServer upstream;
  capture::ProxyOptions o;
  o.request_timeout_ns = 400'000'000;
  Rig rig(upstream.url(""), o);
  HttpClient c(rig.port);
  const auto start = std::chrono::steady_clock::now();
  c.send_raw("GET /slow HTTP/1.1\r\n");
  // A field every 100 ms: each read used to push the deadline back, so the head never timed out.
  // Once the proxy has answered 408 and closed, a write fails.
  bool closed = false;
  for (int i = 0; i < 15 && !closed; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      c.send_raw("X-" + std::to_string(i) + ": y\r\n");
    } catch (const std::exception&) {
      closed = true;
    }
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - start < 1200ms);
  CHECK(rig.proxy->stats().client_timeouts == 1);
  rig.finish();
}

TEST_CASE("regression: Expect 100-continue to an upstream that never sends 100 is answered by the proxy",
          "[capture][proxy][integration]") {
  // The proxy held the body until the upstream's 100, which most servers never send: 504.
  ScriptedUpstream upstream({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, 1);
  capture::ProxyOptions o;
  o.response_timeout_ns = 1'000'000'000;
  Rig rig(upstream.url(), o);
  {
    HttpClient c(rig.port);
    c.send_raw("PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    CHECK(c.read_answer().status == 100);
    c.send_raw("12345");
    const auto a = c.read_answer();
    CHECK(a.status == 200);
    CHECK(a.body == "ok");
  }
  CHECK(upstream.served == 1);
  const auto trace = rig.finish();
  REQUIRE(trace.size() == 1);
  CHECK(trace[0].request_body == "12345");
  CHECK(trace[0].status == 200);
}

TEST_CASE("regression: an upstream's final answer to an Expect head tells the client what the proxy does",
          "[capture][proxy][integration]") {
  // The close it led to was added to the recorded answer only: the client was told keep-alive.
  ScriptedUpstream upstream({"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"}, 1,
                            /*close_idle=*/false, /*answer_at_head=*/true);
  Rig rig(upstream.url());
  HttpClient c(rig.port);
  c.send_raw("PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  auto a = c.read_answer();
  if (a.status == 100) {
    c.send_raw("12345");
    a = c.read_answer();
  }
  CHECK(a.status == 401);
  CHECK(kept_as_announced(c, a, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  rig.finish();
}

TEST_CASE("regression: after an upstream's Connection: close, pipelined requests are not dropped unannounced",
          "[capture][proxy][integration]") {
  ScriptedUpstream upstream({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"}, 1);
  Rig rig(upstream.url());
  HttpClient c(rig.port);
  c.send_raw("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto a = c.read_answer();
  CHECK(a.body == "ok");
  // Told close, the client knows /2 went unanswered and sends it again elsewhere.
  CHECK(kept_as_announced(c, a));
  rig.finish();
}

TEST_CASE("regression: an HTTP/1.0 client is told the Connection the proxy keeps",
          "[capture][proxy][integration]") {
  TestServer upstream;
  Rig rig(upstream.url(""));
  {
    // Keep-alive asked: kept (the upstream is asked to keep its connection too), and said so.
    HttpClient c(rig.port);
    const std::string request = "GET /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n";
    c.send_raw(request);
    const auto a = c.read_answer();
    CHECK(a.status == 200);
    CHECK(a.keep_alive);
    CHECK(kept_as_announced(c, a, request));
    CHECK(upstream.connections_accepted() == 1);
  }
  {
    HttpClient c(rig.port);
    c.send_raw("GET /b HTTP/1.0\r\nHost: a\r\n\r\n");
    const auto a = c.read_answer();
    CHECK(!a.keep_alive);
    CHECK(kept_as_announced(c, a));
  }
  rig.finish();
}

TEST_CASE("regression: a request framed by anything but a final chunked is refused with 400 and closed",
          "[capture][proxy][integration]") {
  // RFC 9112 6.3: the upstream could frame it differently (request smuggling).
  TestServer upstream;
  Rig rig(upstream.url(""));
  for (const std::string framing : {"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
                                    "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n",
                                    "Transfer-Encoding: chunked, gzip\r\n", "Transfer-Encoding: gzip\r\n",
                                    "Transfer-Encoding: chunked, chunked\r\n"}) {
    INFO(framing);
    HttpClient c(rig.port);
    c.send_raw("POST /x HTTP/1.1\r\nHost: a\r\n" + framing + "\r\n5\r\nhello\r\n0\r\n\r\n");
    CHECK(c.read_until_close().rfind("HTTP/1.1 400", 0) == 0);
  }
  CHECK(upstream.request_count() == 0);
  CHECK(rig.proxy->stats().bad_requests == 5);
  rig.finish();
}

TEST_CASE("proxy: HTTPS on both sides, with a CA made for the test", "[capture][proxy][integration]") {
  if (run({"/usr/bin/openssl", "version"}).exit_code != 0) {
    WARN("skipped: needs openssl (tests/run.sh installs it)");
    return;
  }
  TempDir certs;
  const auto out = run_shell(
      "cd " + certs.path().string() + " && "
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=reprise-test-ca 2>/dev/null && "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null && "
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null");
  REQUIRE(out.exit_code == 0);
  TestServer upstream;
  // Inner proxy: HTTPS listener in front of the plain upstream.
  capture::ProxyOptions inner;
  inner.tls_cert = certs.file("server.pem");
  inner.tls_key = certs.file("server.key");
  inner.record = false;
  inner.listen = "127.0.0.1:0";
  inner.upstream = upstream.url("");
  auto tls_proxy = capture::RecordingProxy::start(inner, nullptr);
  REQUIRE(tls_proxy);
  const auto inner_addr = (*tls_proxy)->listen_address();
  // Outer proxy: plain listener, https upstream verified against the test CA.
  capture::ProxyOptions outer;
  outer.upstream_ca = certs.file("ca.pem");
  Rig rig("https://" + inner_addr, outer);
  {
    HttpClient c(rig.port);
    const auto a = c.request("POST", "/secure", {}, "payload");
    CHECK(a.status == 200);
    CHECK(a.body == "ok /secure");
  }
  CHECK(upstream.requests().size() == 1);
  // Without the CA the upstream's certificate is refused: 502.
  capture::ProxyOptions untrusting;
  untrusting.upstream_ca = certs.file("server.pem");  // not a CA
  Rig bad("https://" + inner_addr, untrusting);
  HttpClient c(bad.port);
  CHECK(c.request("GET", "/x").status == 502);
  (*tls_proxy)->stop();
  REQUIRE((*tls_proxy)->finish());
  const auto trace = rig.finish();
  REQUIRE(trace.size() == 1);
  CHECK(trace[0].request_body == "payload");
}

TEST_CASE("regression: out of descriptors, the proxy pauses accepting instead of spinning, then serves again",
          "[capture][proxy][integration]") {
  TestServer upstream;
  // 64 descriptors, the hard limit too: the proxy cannot raise it, and says so.
  ProxyProcess proxy("ulimit -n 64 &&", "--no-record --threads 1 --upstream " + upstream.url(""));
  CHECK(eventually([&] {
    try {
      HttpClient probe(proxy.port);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
  {
    // More clients than descriptors: the kernel completes their connections into the backlog,
    // and the proxy's accept fails (EMFILE) until some close.
    std::vector<std::unique_ptr<HttpClient>> held;
    for (int i = 0; i < 100; ++i) held.push_back(std::make_unique<HttpClient>(proxy.port));
    std::this_thread::sleep_for(1s);
  }
  CHECK(eventually([&] {
    try {
      HttpClient c(proxy.port);
      return c.request("GET", "/again").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }));
  CHECK(proxy.process.stop(SIGTERM, 15s) == 0);
  const auto failures = proxy.counters().at("proxy.accept_failures").get<std::uint64_t>();
  CHECK(failures > 0);
  CHECK(failures < 200);  // about one per 50 ms pause over that second, not a spin
  CHECK(proxy.stderr_text().find("descriptor limit") != std::string::npos);
}

TEST_CASE("regression: a trace that can no longer be written is said at once, and what goes unrecorded is counted",
          "[capture][proxy][integration]") {
  TestServer upstream;
  TempDir dir;
  // A file size limit of 8 KiB (SIGXFSZ ignored, so a write past it fails with EFBIG): the
  // trace's first blocks fit, later ones do not, as on a disk that fills up.
  ProxyProcess proxy("trap '' XFSZ; ulimit -f 8 &&",
                     "--upstream " + upstream.url("") + " -o " + dir.file("t.rtrace"));
  std::uint64_t answered = 0;
  CHECK(eventually(
      [&] {
        try {
          HttpClient c(proxy.port);
          for (int i = 0; i < 200; ++i, ++answered) REQUIRE(c.request("GET", "/r" + std::to_string(i)).status == 200);
        } catch (const std::exception&) {
        }
        return proxy.stderr_text().find("no longer recording") != std::string::npos;
      },
      10s));
  CHECK(proxy.process.stop(SIGTERM, 15s) == 4);  // the write error, reported at stop
  const auto counters = proxy.counters();
  const auto unrecorded = counters.at("proxy.unrecorded_after_error").get<std::uint64_t>();
  CHECK(unrecorded > 0);
  CHECK(counters.at("trace.exchanges_assembled").get<std::uint64_t>() + unrecorded ==
        counters.at("proxy.exchanges").get<std::uint64_t>());
  CHECK(counters.at("proxy.exchanges").get<std::uint64_t>() == answered);
}

TEST_CASE("proxy: after SIGTERM under load every answered request is in the trace",
          "[capture][proxy][integration]") {
  TestServer upstream(TestServerOptions{2});
  upstream.set_behaviour(Behaviour::ok().after(5ms));
  TempDir dir;
  const int port = free_port();
  const auto trace = dir.file("load.rtrace");
  const auto stats = dir.file("stats.json");
  Background proxy({reprise_bin(), "proxy", "--listen", "127.0.0.1:" + std::to_string(port), "--upstream",
                    upstream.url(""), "-o", trace, "--threads", "2", "--stats-json", stats});
  for (int i = 0; i < 100; ++i) {
    try {
      HttpClient probe(port);
      break;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  std::atomic<std::uint64_t> answered{0}, not_ok{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      while (!stop) {
        try {
          HttpClient c(port);
          for (int i = 0; i < 50 && !stop; ++i) {
            // Every answer counts, whatever its status: the trace must hold each one.
            const auto a = c.request("GET", "/load/" + std::to_string(t) + "/" + std::to_string(i));
            ++answered;
            if (a.status != 200) ++not_ok;
            if (!a.keep_alive) break;
          }
        } catch (const std::exception&) {
          return;  // the proxy closed or stopped listening
        }
      }
    });
  std::this_thread::sleep_for(700ms);
  const int status = proxy.stop(SIGTERM, 15s);
  stop = true;
  for (auto& c : clients) c.join();
  CHECK(status == 0);
  REQUIRE(answered > 100);
  const auto recorded = read_trace(trace);
  INFO(not_ok << " answers were not 200");
  INFO(run({"/bin/cat", stats}).out);  // the proxy's counters, should this fail
  CHECK(recorded.size() == answered);
  CHECK(not_ok * 20 < answered);
}

TEST_CASE("reprise proxy refuses bad flags with exit 2 and a taken address with exit 4",
          "[capture][proxy][cli]") {
  TestServer taken;
  const std::string up = taken.url("");
  const std::string in_use = "127.0.0.1:" + std::to_string(taken.port());
  const std::vector<std::pair<std::vector<std::string>, int>> cases = {
      {{"--upstream", "ftp://x", "--no-record"}, 2},
      {{"--upstream", up + "/path", "--no-record"}, 2},
      {{"--upstream", up}, 2},                                 // neither -o nor --no-record
      {{"--upstream", up, "--no-record", "--listen", "localhost"}, 2},
      {{"--upstream", up, "--no-record", "--tls-cert", "/nonexistent.pem"}, 2},
      {{"--upstream", up, "--no-record", "--drain-timeout", "soon"}, 2},
      {{"--upstream", up, "--no-record", "--listen", in_use}, 4},
      {{"--upstream", up, "--no-record", "--threads", "4294967295"}, 2},
      {{"--upstream", up, "--no-record", "--threads", "0"}, 2},
      {{"--upstream", up, "--no-record", "--max-connections", "-1"}, 2},
      {{"--upstream", up, "--no-record", "--threads", "4", "--max-upstream-connections", "2"}, 2},
      {{"--upstream", up, "--no-record", "--sample", "10%"}, 2},          // records nothing to sample
      {{"--upstream", up, "--no-record", "--upstream-ca", "/etc/hostname"}, 2},  // http: nothing to verify
      {{"--upstream", up, "--no-record", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"}, 2},
      {{"--upstream", up, "--no-record", "--max-header", "2MiB"}, 2},
      {{"--upstream", up, "-o", "/dev/null", "--max-body", "17MiB"}, 2},  // a record holds both bodies
  };
  for (const auto& [flags, code] : cases) {
    std::vector<std::string> argv = {reprise_bin(), "proxy"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto out = run(argv, {}, 10s);
    INFO(flags.back() << ": " << out.err);
    CHECK(out.exit_code == code);
    CHECK(out.err.find("reprise:") != std::string::npos);
  }
  // A TLS file is named with what is wrong with it.
  const auto tls = run({reprise_bin(), "proxy", "--upstream", up, "--no-record", "--tls-cert", "/nonexistent.pem",
                        "--tls-key", "/nonexistent.key"},
                       {}, 10s);
  CHECK(tls.err.find("/nonexistent.pem") != std::string::npos);
  CHECK(tls.err.find("No such file") != std::string::npos);
}
