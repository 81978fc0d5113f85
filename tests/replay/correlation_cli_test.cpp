// End to end: sessions with a login are recorded with tcpdump and `reprise capture`, then
// replayed ×5 by `reprise replay` against a fresh server that knows none of the recorded
// credentials. The server is an in-process Beast server with a small login flow:
//   GET  /login-form   an HTML form with a fresh CSRF value in a hidden input
//   POST /login        user=NAME&csrf=VALUE (each CSRF value once) -> a fresh access and
//                      refresh token in JSON and a fresh session cookie (Set-Cookie: sid)
//   GET  /api/...      needs "Authorization: Bearer <current token>" and the cookie sid of the
//                      same login, else 401
//   POST /refresh      {"refresh_token": ...} with the current bearer -> both tokens rotated
// Replayed verbatim every request after the form would be refused; correlated, every clone is
// a user of its own.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "reprise/format/reader.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/trace_file.hpp"

using namespace reprise;
using namespace reprise::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string fresh_token() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard lock(mu);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return hex;
}

std::string form_value(const std::string& body, const std::string& name) {
  for (std::size_t at = 0; at < body.size();) {
    const auto amp = body.find('&', at);
    const std::string pair = body.substr(at, amp - at);
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  return {};
}

std::string cookie_value(const std::string& header, const std::string& name) {
  const auto at = header.find(name + "=");
  if (at == std::string::npos) return {};
  const auto end = header.find(';', at);
  return header.substr(at + name.size() + 1, end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
}

// The login flow's state, and a log of what every protected request and refresh carried.
class LoginApp {
 public:
  std::chrono::milliseconds refresh_delay{0};  // answers to /refresh come this much later

  struct Hit {
    std::string path, user, token;
    unsigned status = 0;
    Clock::time_point at;
  };

  Behaviour handle(const ReceivedRequest& r) {
    std::lock_guard lock(mu_);
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/login-form") {
      const std::string csrf = fresh_token();
      csrf_.insert(csrf);
      return Behaviour::respond(200, "<html><form method=post action=/login><input type=\"hidden\" name=\"csrf\" value=\"" +
                                         csrf + "\"><input name=user></form></html>",
                                "text/html");
    }
    if (path == "/login") {
      const std::string csrf = form_value(r.body, "csrf");
      if (csrf_.erase(csrf) == 0) return log({path, "", "", 403, Clock::now()}, Behaviour::respond(403, "bad csrf"));
      Login l{form_value(r.body, "user"), fresh_token(), fresh_token(), fresh_token()};
      by_token_[l.token] = l;
      ++logins_[l.user];
      return Behaviour::json(R"({"access_token":")" + l.token + R"(","refresh_token":")" + l.refresh +
                             R"(","user":")" + l.user + R"("})")
          .with_header("Set-Cookie", "sid=" + l.sid + "; Path=/; HttpOnly");
    }
    const std::string auth = r.header("Authorization").value_or("");
    const std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
    const auto it = by_token_.find(token);
    const bool valid = it != by_token_.end() &&
                       cookie_value(r.header("Cookie").value_or(""), "sid") == it->second.sid;
    const std::string user = valid ? it->second.user : "";
    if (!valid) return log({path, user, token, 401, Clock::now()}, Behaviour::respond(401, "stale or foreign token"));
    if (path == "/refresh") {
      const auto body = nlohmann::json::parse(r.body, nullptr, false);
      if (!body.is_object() || body.value("refresh_token", "") != it->second.refresh)
        return log({path, user, token, 401, Clock::now()}, Behaviour::respond(401, "bad refresh token"));
      Login l = it->second;
      by_token_.erase(it);
      l.token = fresh_token();
      l.refresh = fresh_token();
      by_token_[l.token] = l;
      return log({path, user, token, 200, Clock::now()},
                 Behaviour::json(R"({"access_token":")" + l.token + R"(","refresh_token":")" + l.refresh + R"("})")
                     .after(refresh_delay));
    }
    return log({path, user, token, 200, Clock::now()}, Behaviour::json(R"({"user":")" + user + R"("})"));
  }

  std::vector<Hit> hits() const {
    std::lock_guard lock(mu_);
    return hits_;
  }
  std::map<std::string, int> logins() const {
    std::lock_guard lock(mu_);
    return logins_;
  }

 private:
  struct Login {
    std::string user, token, refresh, sid;
  };
  Behaviour log(Hit h, Behaviour b) {
    hits_.push_back(std::move(h));
    return b;
  }

  mutable std::mutex mu_;
  std::set<std::string> csrf_;
  std::map<std::string, Login> by_token_;
  std::map<std::string, int> logins_;
  std::vector<Hit> hits_;
};

// A blocking keep-alive HTTP/1.1 client: one request at a time on one connection.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Client() { ::close(fd_); }

  struct Response {
    unsigned status = 0;
    std::string head, body;
  };

  Response send(const std::string& method, const std::string& target,
                const std::vector<std::string>& headers, const std::string& body = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    REQUIRE(::write(fd_, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    std::string in;
    char buf[4096];
    std::size_t head_end = std::string::npos, length = 0;
    while (head_end == std::string::npos || in.size() < head_end + 4 + length) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      REQUIRE(n > 0);
      in.append(buf, static_cast<std::size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        const auto cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(in.substr(cl + 16));
      }
    }
    Response r;
    r.status = static_cast<unsigned>(std::stoul(in.substr(9, 3)));
    r.head = in.substr(0, head_end);
    r.body = in.substr(head_end + 4, length);
    return r;
  }

 private:
  int fd_ = -1;
};

std::string between(const std::string& s, const std::string& before, const std::string& after) {
  const auto a = s.find(before);
  if (a == std::string::npos) return {};
  const auto b = s.find(after, a + before.size());
  return s.substr(a + before.size(), b - a - before.size());
}

// One user as a browser would: the form and the login on one connection, the API on another.
void record_user(int port, const std::string& user) {
  std::string token, refresh, sid;
  {
    Client c(port);
    const auto form = c.send("GET", "/login-form", {"Accept: text/html"});
    const std::string csrf = between(form.body, "name=\"csrf\" value=\"", "\"");
    std::this_thread::sleep_for(60ms);
    const auto login = c.send("POST", "/login", {"Content-Type: application/x-www-form-urlencoded"},
                              "user=" + user + "&csrf=" + csrf);
    REQUIRE(login.status == 200);
    const auto j = nlohmann::json::parse(login.body);
    token = j.at("access_token");
    refresh = j.at("refresh_token");
    sid = between(login.head, "Set-Cookie: sid=", ";");
  }
  std::this_thread::sleep_for(60ms);
  Client api(port);
  auto auth = [&] { return std::vector<std::string>{"Authorization: Bearer " + token, "Cookie: sid=" + sid + "; theme=dark"}; };
  REQUIRE(api.send("GET", "/api/profile", auth()).status == 200);
  std::this_thread::sleep_for(60ms);
  auto headers = auth();
  headers.push_back("Content-Type: application/json");
  const auto rotated = api.send("POST", "/refresh", headers, R"({"refresh_token":")" + refresh + R"("})");
  REQUIRE(rotated.status == 200);
  token = nlohmann::json::parse(rotated.body).at("access_token");
  std::this_thread::sleep_for(60ms);
  REQUIRE(api.send("GET", "/api/orders?page=1", auth()).status == 200);
  REQUIRE(api.send("GET", "/api/profile", auth()).status == 200);
}

std::vector<std::string> users() { return {"alice", "bob", "carol"}; }

// The login flow recorded for three users, as a trace.
std::string record_trace(const TempDir& dir) {
  const auto pcap = dir.file("login.pcap");
  {
    LoginApp app;
    TestServer server;
    server.set_handler([&](const ReceivedRequest& r) { return app.handle(r); });
    Tcpdump dump(pcap, server.port());
    for (const auto& u : users()) record_user(server.port(), u);
    dump.stop();
  }
  const auto trace = dir.file("login.rtrace");
  const auto cap = run({reprise_bin(), "capture", "--pcap", pcap, "-o", trace});
  INFO(cap.err);
  REQUIRE(cap.exit_code == 0);
  return trace;
}

// Exchanges per session id, and the targets of each.
std::map<std::uint64_t, std::vector<std::string>> trace_sessions(const std::string& trace) {
  std::map<std::uint64_t, std::vector<std::string>> out;
  auto reader = format::Reader::open(trace);
  REQUIRE(reader);
  format::Record record;
  while (true) {
    auto more = (*reader)->next(record);
    REQUIRE(more);
    if (!*more) break;
    const auto* x = record.exchange();
    out[x->session_id()].push_back(x->request()->target()->str());
  }
  return out;
}

// `reprise replay TRACE` against a fresh server running `app`, with `flags` after the target;
// requires a clean exit.
ProcessResult replay_against(LoginApp& app, const std::string& trace, std::vector<std::string> flags) {
  TestServer server;
  server.set_handler([&](const ReceivedRequest& r) { return app.handle(r); });
  std::vector<std::string> argv = {reprise_bin(), "replay", trace, "--target",
                                   "http://127.0.0.1:" + std::to_string(server.port())};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto out = run(argv, {}, 60s);
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  return out;
}

bool capture_possible() {
  if (!Tcpdump::available() || ::geteuid() != 0) {
    WARN("skipped: needs tcpdump and root (tests/run.sh installs it; CI runs as root)");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("capture groups a login with the session that later sends its cookie",
          "[replay][correlation][integration]") {
  if (!capture_possible()) return;
  TempDir dir;
  const auto sessions = trace_sessions(record_trace(dir));
  REQUIRE(sessions.size() == users().size());
  for (const auto& [id, targets] : sessions) {
    INFO("session " << id);
    CHECK(targets == std::vector<std::string>{"/login-form", "/login", "/api/profile", "/refresh",
                                              "/api/orders?page=1", "/api/profile"});
  }
}

TEST_CASE("replay x5 of a recorded login flow: every clone logs in as its own user, 0 x 401",
          "[replay][correlation][integration]") {
  if (!capture_possible()) return;
  TempDir dir;
  const auto trace = record_trace(dir);

  LoginApp app;
  const auto stats = dir.file("stats.json");
  replay_against(app, trace, {"-o", dir.file("run.rrun"), "--multiplier", "5", "--clone-spread", "2s",
                              "--stats-json", stats});

  // Every login succeeded and every protected request and refresh was accepted.
  const auto hits = app.hits();
  for (const auto& u : users()) CHECK(app.logins()[u] == 5);
  REQUIRE(hits.size() == users().size() * 5 * 4);
  std::size_t refused = 0;
  for (const auto& h : hits) refused += h.status != 200;
  CHECK(refused == 0);

  // Each user's 5 clones used tokens of their own: 5 from the logins, 5 from the refreshes.
  std::map<std::string, std::set<std::string>> tokens;
  std::map<std::string, std::vector<Clock::time_point>> refreshes;
  for (const auto& h : hits) {
    tokens[h.user].insert(h.token);
    if (h.path == "/refresh") refreshes[h.user].push_back(h.at);
  }
  for (const auto& u : users()) {
    INFO(u);
    CHECK(tokens[u].size() == 10);
    // Refreshes are spread over the clone spread, not fired together.
    auto& times = refreshes[u];
    REQUIRE(times.size() == 5);
    std::sort(times.begin(), times.end());
    CHECK(times.back() - times.front() >= 500ms);
    for (std::size_t i = 2; i < times.size(); ++i) CHECK(times[i] - times[i - 2] >= 50ms);
  }

  // The summary names the detected rules and counts what they did.
  std::ifstream in(stats);
  const auto j = nlohmann::json::parse(in);
  std::set<std::string> rules;
  for (const auto& r : j.at("correlation").at("rules")) {
    rules.insert(r.at("rule").get<std::string>());
    CHECK(r.at("misses") == 0);
    CHECK(r.at("timeouts") == 0);
  }
  CHECK(rules.count("json:$.access_token") == 1);
  CHECK(rules.count("json:$.refresh_token") == 1);
  CHECK(rules.count("html:csrf") == 1);
  CHECK(j.at("correlation").at("cookie_headers_rewritten").get<int>() > 0);
  CHECK(j.at("status_classes").at("4xx") == 0);
}

TEST_CASE("replay --no-correlate sends the recorded credentials, which a fresh server refuses",
          "[replay][correlation][integration]") {
  if (!capture_possible()) return;
  TempDir dir;
  const auto trace = record_trace(dir);
  LoginApp app;
  const auto out = replay_against(app, trace, {"-o", dir.file("run.rrun"), "--no-correlate"});
  const auto hits = app.hits();
  REQUIRE(!hits.empty());
  for (const auto& h : hits) CHECK(h.status != 200);
  CHECK(out.err.find("correlation") != std::string::npos);
}

TEST_CASE("a request waits for its clone's slow refresh and past --correlation-timeout goes flagged",
          "[replay][correlation][integration]") {
  if (!capture_possible()) return;
  TempDir dir;
  const auto trace = record_trace(dir);
  // The recording sent /api/orders 60 ms after /refresh; the replayed refresh takes 300 ms.
  auto replay = [&](const std::string& timeout, LoginApp& app) {
    app.refresh_delay = 300ms;
    const auto stats = dir.file("stats-" + timeout + ".json");
    replay_against(app, trace, {"-o", dir.file("run-" + timeout + ".rrun"), "--correlation-timeout", timeout,
                                "--stats-json", stats});
    std::ifstream in(stats);
    const auto summary = nlohmann::json::parse(in);
    for (const auto& r : summary.at("correlation").at("rules"))
      if (r.at("rule").get<std::string>() == "json:$.access_token") return r;
    FAIL("no json:$.access_token rule");
    return nlohmann::json();
  };

  SECTION("waited: the new token is sent, nothing refused") {
    LoginApp app;
    const auto rule = replay("4s", app);  // below --max-lateness (5s)
    CHECK(rule.at("waits").get<int>() >= 3);
    CHECK(rule.at("timeouts") == 0);
    for (const auto& h : app.hits()) CHECK(h.status == 200);
  }
  SECTION("timed out: the recorded token is sent, refused, and the outcome says why") {
    LoginApp app;
    const auto rule = replay("50ms", app);
    CHECK(rule.at("timeouts").get<int>() >= 3);
    std::size_t refused = 0;
    for (const auto& h : app.hits()) refused += h.status == 401;
    CHECK(refused >= 3);
    auto reader = format::Reader::open(dir.file("run-50ms.rrun"));
    REQUIRE(reader);
    format::Record record;
    std::size_t flagged = 0;
    while (true) {
      auto more = (*reader)->next(record);
      REQUIRE(more);
      if (!*more) break;
      const auto flags = record.outcome()->correlation();
      if ((flags & format::fb::CorrelationFlags::TimedOut) != format::fb::CorrelationFlags::NONE) {
        ++flagged;
        CHECK(record.outcome()->status() == 401);
      }
    }
    CHECK(flagged >= 3);
  }
}

namespace {

// One session: a login answered with a token in JSON, then a request carrying it.
std::string login_trace(const TempDir& dir) {
  const std::string token = "9f86d081884c7d659a2feaa0c55ad015";
  std::vector<format::fb::ExchangeT> xs;
  for (std::uint64_t id = 1; id <= 2; ++id) {
    auto& x = xs.emplace_back(exchange(id, 7, static_cast<std::int64_t>(id) * 100'000'000,
                                       id == 1 ? "POST" : "GET", id == 1 ? "/login" : "/api/me"));
    x.request->headers.push_back(field("Host", "shop.example"));
    if (id == 2) x.request->headers.push_back(field("Authorization", "Bearer " + token));
    set_body(*x.response, id == 1 ? R"({"token":")" + token + R"("})" : "{}");
  }
  return write_trace(dir.file("small.rtrace"), xs);
}

}  // namespace

TEST_CASE("a request that waits for two slow producers in turn waits at most --correlation-timeout in all",
          "[replay][correlation][cli]") {
  // /order needs the token of /login and the one of /config, both in flight when it is due.
  // /login answers after 300 ms: /order then waits for /config (700 ms), but only until 400 ms
  // after it first waited, and goes with /config's recorded value, flagged timed out.
  const std::string login_token = "9f86d081884c7d659a2feaa0c55ad015", config_token = "4e07408562bedb8b60ce05c1decfe3ad";
  std::vector<format::fb::ExchangeT> xs;
  auto add = [&](std::uint64_t id, std::int64_t at_ms, const char* method, const char* path) -> format::fb::ExchangeT& {
    auto& x = xs.emplace_back(exchange(id, 7, at_ms * 1'000'000, method, path));
    x.request->headers.push_back(field("Host", "shop.example"));
    return x;
  };
  set_body(*add(1, 100, "POST", "/login").response, R"({"token":")" + login_token + R"("})");
  set_body(*add(2, 110, "GET", "/config").response, R"({"csrf":")" + config_token + R"("})");
  auto& order = add(3, 160, "POST", "/order");
  order.request->headers.push_back(field("Authorization", "Bearer " + login_token));
  order.request->headers.push_back(field("X-Csrf", config_token));
  set_body(*order.response, "{}");
  TempDir dir;
  const auto trace = write_trace(dir.file("two.rtrace"), xs);

  TestServer server;
  server.on("/login", Behaviour::json(R"({"token":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"})").after(300ms));
  server.on("/config", Behaviour::json(R"({"csrf":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"})").after(700ms));
  server.on("/order", Behaviour::json("{}"));
  const auto out = run({reprise_bin(), "replay", trace, "--target", server.url(""), "-o", dir.file("r.rrun"),
                        "--correlation-timeout", "400ms", "--no-default-aborts"});
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  auto reader = format::Reader::open(dir.file("r.rrun"));
  REQUIRE(reader);
  format::Record record;
  bool seen = false;
  while (true) {
    auto more = (*reader)->next(record);
    REQUIRE(more);
    if (!*more) break;
    const auto* o = record.outcome();
    if (o == nullptr || o->exchange_id() != 3) continue;
    seen = true;
    const auto flags = o->correlation();
    CHECK((flags & format::fb::CorrelationFlags::Waited) != format::fb::CorrelationFlags::NONE);
    CHECK((flags & format::fb::CorrelationFlags::TimedOut) != format::fb::CorrelationFlags::NONE);
    // Sent 400 ms after it first waited (its intended time): not 400 ms after /login answered.
    const double waited_ms = static_cast<double>(o->sent_ns() - o->intended_ns()) / 1e6;
    CHECK(waited_ms >= 390);
    CHECK(waited_ms < 520);
  }
  CHECK(seen);
  REQUIRE(server.request_count("/order") == 1);
  bool new_login_token = false;
  for (const auto& r : server.requests())
    for (const auto& [name, value] : r.headers)
      if (r.target == "/order" && name == "Authorization") new_login_token = value == "Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
  CHECK(new_login_token);  // /login's value arrived in time and was used
}

TEST_CASE("replay --dry-run lists the detected and the given correlation rules",
          "[replay][correlation][cli]") {
  TempDir dir;
  const auto trace = login_trace(dir);
  auto out = run({reprise_bin(), "replay", trace, "--dry-run", "--correlate", "header:X-Csrf",
                  "--clone-rewrite", "header:X-Device=d{clone}"});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(out.out.find("json:$.token (detected, 1 uses") != std::string::npos);
  CHECK(out.out.find("header:X-Csrf (given)") != std::string::npos);
  CHECK(out.out.find("--clone-rewrite 'header:X-Device=d{clone}'") != std::string::npos);

  out = run({reprise_bin(), "replay", trace, "--dry-run", "--no-detect"});
  CHECK(out.out.find("0 rules; detection off (--no-detect)") != std::string::npos);
  out = run({reprise_bin(), "replay", trace, "--dry-run", "--no-correlate"});
  CHECK(out.out.find("off (--no-correlate)") != std::string::npos);
}

TEST_CASE("replay refuses bad correlation flags with exit 2 and names the flag",
          "[replay][correlation][cli]") {
  TempDir dir;
  const auto trace = login_trace(dir);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--correlate", "jsn:$.a"}, "--correlate"},
      {{"--correlate", "json:token"}, "--correlate"},
      {{"--correlate", "regex:(["}, "--correlate"},
      {{"--clone-rewrite", "body:x"}, "--clone-rewrite"},
      {{"--clone-rewrite", "header:"}, "--clone-rewrite"},
      {{"--correlation-timeout", "soon"}, "--correlation-timeout"},
      {{"--no-correlate", "--correlate", "json:$.a"}, "--no-correlate"},
  };
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> argv = {reprise_bin(), "replay", trace, "--dry-run"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto out = run(argv);
    INFO(flags.front() << " " << flags.back() << ": " << out.err);
    CHECK(out.exit_code == 2);
    CHECK(out.err.find(named) != std::string::npos);
  }
}
