#include <catch2/catch.hpp>

#include "reprise/capture/trace_recorder.hpp"
#include "reprise/format/reader.hpp"

#include <map>
#include <thread>

using namespace reprise;
using namespace reprise::capture;

namespace {

HttpExchange exchange(std::uint64_t connection, std::int64_t start, std::string target,
                      HttpHeaders request_headers = {}) {
  HttpExchange x;
  x.connection_id = connection;
  x.request_first_ns = start;
  x.request_last_ns = start + 10;
  x.response_first_ns = start + 100;
  x.response_last_ns = start + 200;
  x.request.method = "GET";
  x.request.target = std::move(target);
  x.request.headers = std::move(request_headers);
  x.response.status = 200;
  x.response.reason = "OK";
  const std::string body = R"({"token":"s3cr3t-123","ok":true})";
  x.response.body.assign(body.begin(), body.end());
  x.response.body_size = body.size();
  return x;
}

struct Recorded {
  std::vector<std::uint8_t> bytes;
  std::unique_ptr<format::Writer> writer;
  std::unique_ptr<TraceRecorder> recorder;

  explicit Recorded(RecorderOptions o = {}) {
    format::fb::FileHeaderT h;
    h.kind = format::FileKind::Trace;
    writer = std::move(*format::Writer::open(std::make_unique<format::MemorySink>(&bytes), h));
    recorder = std::make_unique<TraceRecorder>(*writer, std::move(o));
  }
  std::vector<format::fb::ExchangeT> read() {
    REQUIRE(recorder->finish().ok());
    REQUIRE(writer->close().ok());
    auto r = format::Reader::open(format::ByteSource::from_memory(bytes));
    REQUIRE(r.ok());
    std::vector<format::fb::ExchangeT> out;
    format::Record rec;
    while (*(*r)->next(rec)) {
      out.emplace_back();
      rec.exchange()->UnPackTo(&out.back());
    }
    return out;
  }
};

}  // namespace

TEST_CASE("recorder: exchanges are written in request start order up to the watermark",
          "[capture][recorder]") {
  Recorded t;
  REQUIRE(t.recorder->add(exchange(1, 300, "/c")).ok());
  REQUIRE(t.recorder->add(exchange(2, 100, "/a")).ok());
  REQUIRE(t.recorder->release(200).ok());  // only /a started before 200
  CHECK(t.recorder->stats().written == 1);
  REQUIRE(t.recorder->add(exchange(3, 200, "/b")).ok());
  const auto xs = t.read();
  REQUIRE(xs.size() == 3);
  CHECK(xs[0].request->target == "/a");
  CHECK(xs[1].request->target == "/b");
  CHECK(xs[2].request->target == "/c");
  CHECK(xs[0].id == 1);
  CHECK(xs[2].id == 3);
}

TEST_CASE("recorder: a full reorder buffer writes early, and a late exchange is flagged, not lost",
          "[capture][recorder]") {
  RecorderOptions o;
  o.reorder_max_bytes = 1;  // every add forces the oldest out
  Recorded t(o);
  REQUIRE(t.recorder->add(exchange(1, 500, "/x")).ok());
  REQUIRE(t.recorder->add(exchange(2, 600, "/y")).ok());
  REQUIRE(t.recorder->add(exchange(3, 100, "/late")).ok());
  const auto xs = t.read();
  REQUIRE(xs.size() == 3);
  CHECK(t.recorder->stats().late == 1);
  CHECK(t.recorder->stats().forced_releases >= 1);
  const auto& late = xs[1];
  CHECK(late.request->target == "/late");
  CHECK((late.flags & format::fb::ExchangeFlags::Late) == format::fb::ExchangeFlags::Late);
  CHECK(late.request_first_ns == 500);  // clamped to keep the trace ordered
}

TEST_CASE("recorder: filters by method, host and path", "[capture][recorder]") {
  RecorderOptions o;
  o.methods = {"get"};
  o.hosts = {"api.example.com"};
  o.path.emplace("^/api/");
  Recorded t(o);
  auto post = exchange(1, 1, "/api/x", {{"Host", "api.example.com"}});
  post.request.method = "POST";
  REQUIRE(t.recorder->add(std::move(post)).ok());
  REQUIRE(t.recorder->add(exchange(2, 2, "/api/y", {{"Host", "www.example.com"}})).ok());
  REQUIRE(t.recorder->add(exchange(3, 3, "/static/z", {{"host", "API.example.com:8080"}})).ok());
  REQUIRE(t.recorder->add(exchange(4, 4, "/api/ok", {{"Host", "api.example.com:8080"}})).ok());
  const auto xs = t.read();
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].request->target == "/api/ok");
  CHECK(t.recorder->stats().filtered_method == 1);
  CHECK(t.recorder->stats().filtered_host == 1);
  CHECK(t.recorder->stats().filtered_path == 1);
}

TEST_CASE("recorder: max_written counts what passes the filters, and keeps the earliest",
          "[capture][recorder]") {
  // --method POST --max-exchanges 2: the GETs before the POSTs do not use up the limit.
  RecorderOptions o;
  o.methods = {"POST"};
  o.max_written = 2;
  Recorded t(o);
  for (int i = 0; i < 6; ++i) {
    auto x = exchange(static_cast<std::uint64_t>(i + 1), 10 * i, "/" + std::to_string(i));
    if (i >= 2) x.request.method = "POST";
    REQUIRE(t.recorder->add(std::move(x)).ok());
  }
  const auto xs = t.read();
  REQUIRE(xs.size() == 2);
  CHECK(xs[0].request->target == "/2");
  CHECK(xs[1].request->target == "/3");
  CHECK(t.recorder->stats().filtered_method == 2);
  CHECK(t.recorder->stats().beyond_max == 2);
}

TEST_CASE("recorder: redaction replaces values by stable hashes and flags the exchange",
          "[capture][recorder]") {
  RecorderOptions o;
  o.redact_headers = {"authorization"};
  o.redact_body.emplace_back("s3cr3t-[0-9]+");
  Recorded t(o);
  REQUIRE(t.recorder->add(exchange(1, 1, "/a", {{"Authorization", "Bearer abc"}})).ok());
  REQUIRE(t.recorder->add(exchange(2, 2, "/b", {{"Authorization", "Bearer abc"}})).ok());
  REQUIRE(t.recorder->add(exchange(3, 3, "/c", {{"Authorization", "Bearer xyz"}})).ok());
  const auto xs = t.read();
  REQUIRE(xs.size() == 3);
  const auto& h0 = xs[0].request->headers[0]->value;
  CHECK(h0.rfind("redacted:", 0) == 0);
  CHECK(h0.find("abc") == std::string::npos);
  CHECK(xs[1].request->headers[0]->value == h0);  // stable: sessions stay distinguishable
  CHECK(xs[2].request->headers[0]->value != h0);
  const std::string body(xs[0].response->body.begin(), xs[0].response->body.end());
  CHECK(body.find("s3cr3t") == std::string::npos);
  CHECK(body.find("\"token\":\"redacted:") != std::string::npos);
  CHECK(xs[0].response->body_size == xs[0].response->body.size());
  CHECK((xs[0].flags & format::fb::ExchangeFlags::Redacted) == format::fb::ExchangeFlags::Redacted);
  CHECK(t.recorder->stats().redacted == 3);
}

TEST_CASE("recorder: an exchange prepared into a written one's buffers carries nothing of it",
          "[capture][recorder]") {
  // Each release writes what is held; the next exchanges are prepared into those written ones.
  // Alternate kept and filtered, redacted and not, large and small records.
  RecorderOptions o;
  o.methods = {"GET"};
  o.redact_headers = {"authorization"};
  Recorded t(o);
  std::vector<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    auto x = exchange(static_cast<std::uint64_t>(i + 1), 10 * i, "/" + std::to_string(i),
                      i % 3 == 0 ? HttpHeaders{{"Authorization", "Bearer t" + std::to_string(i)}} : HttpHeaders{});
    if (i % 4 == 1) x.request.method = "POST";  // filtered out
    if (i % 5 == 2) x.response.body.assign(std::size_t{100} << 10, 'b');  // over the spare limit
    if (i % 4 != 1) expected.push_back(x.request.target);
    REQUIRE(t.recorder->add(std::move(x)).ok());
    if (i % 7 == 6) REQUIRE(t.recorder->release(10 * i + 1).ok());
  }
  const auto xs = t.read();
  REQUIRE(xs.size() == expected.size());
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const int i = std::stoi(expected[k].substr(1));
    INFO("exchange " << i);
    CHECK(xs[k].request->target == expected[k]);
    CHECK(xs[k].request->method == "GET");
    CHECK(xs[k].id == k + 1);
    const bool redacted = i % 3 == 0;
    CHECK(xs[k].request->headers.size() == (redacted ? 1u : 0u));
    CHECK(((xs[k].flags & format::fb::ExchangeFlags::Redacted) == format::fb::ExchangeFlags::Redacted) == redacted);
    CHECK(xs[k].response->body.size() == (i % 5 == 2 ? std::size_t{100} << 10 : 32u));
  }
  CHECK(t.recorder->stats().filtered_method == 15);
  CHECK(t.recorder->stats().redacted == 15);
}

TEST_CASE("recorder: sampling keeps or drops whole sessions", "[capture][recorder]") {
  RecorderOptions o;
  o.sample = 0.5;
  Recorded t(o);
  // 200 sessions (connections) of 3 requests each.
  std::int64_t ts = 0;
  for (int round = 0; round < 3; ++round)
    for (std::uint64_t c = 1; c <= 200; ++c) REQUIRE(t.recorder->add(exchange(c, ++ts, "/")).ok());
  const auto xs = t.read();
  std::map<std::uint64_t, int> per_session;
  for (const auto& x : xs) ++per_session[x.session_id];
  for (const auto& [s, n] : per_session) CHECK(n == 3);
  CHECK(per_session.size() > 70);
  CHECK(per_session.size() < 130);
  CHECK(t.recorder->stats().sampled_out == 600 - xs.size());
}

TEST_CASE("recorder: exchanges prepared on other threads make the same trace", "[capture][recorder]") {
  // A login whose Set-Cookie links a later request on another connection, a filtered method, a
  // redacted header and a late arrival: everything the recorder's thread decides from what
  // prepare() took out of the exchange.
  auto mix = [] {
    std::vector<HttpExchange> xs;
    HttpExchange login = exchange(1, 100, "/login");
    login.response.headers = {{"Set-Cookie", "sid=ab12cd34ef56; Path=/"}};
    xs.push_back(std::move(login));
    xs.push_back(exchange(2, 200, "/cart", {{"Cookie", "sid=ab12cd34ef56"}, {"Authorization", "Basic x"}}));
    HttpExchange post = exchange(3, 300, "/skipped");
    post.request.method = "POST";
    xs.push_back(std::move(post));
    xs.push_back(exchange(4, 50, "/late"));
    return xs;
  };
  RecorderOptions o;
  o.methods = {"GET"};
  o.redact_headers = {"Authorization"};
  o.reorder_max_bytes = 1;  // write at once: the last exchange arrives late
  Recorded direct(o), threaded(o);
  for (auto& x : mix()) REQUIRE(direct.recorder->add(std::move(x)).ok());
  std::vector<PreparedExchange> prepared;
  std::thread worker([&] {
    for (auto& x : mix()) prepared.push_back(threaded.recorder->prepare(std::move(x)));
  });
  worker.join();
  for (auto& p : prepared) REQUIRE(threaded.recorder->add(std::move(p)).ok());
  const auto a = direct.read(), b = threaded.read();
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == a.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
  CHECK(a[0].session_id == a[1].session_id);  // the cookie the login set links /cart
  CHECK(a[1].request->headers[1]->value.rfind("redacted:", 0) == 0);
  CHECK(a[2].request->target == "/late");
  CHECK((a[2].flags & format::fb::ExchangeFlags::Late) == format::fb::ExchangeFlags::Late);
  CHECK(a[2].id == 3);
  CHECK(threaded.recorder->stats().filtered_method == 1);
  CHECK(threaded.recorder->stats().late == 1);
  CHECK(threaded.recorder->stats().redacted == 1);
}
