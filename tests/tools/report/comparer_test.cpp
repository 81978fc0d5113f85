// Comparer on outcomes built in memory: pairing, latency significance, status and body changes,
// and noise from clones, a second baseline and the trace.

#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "reprise/format/records.hpp"
#include "reprise/report/comparison.hpp"
#include "reprise/report/gate.hpp"

using namespace reprise;
using namespace reprise::report;

namespace {

constexpr std::int64_t kMs = 1'000'000;

// An outcome of `target` answered with `status` and `body` after `latency_ns`.
struct Made {
  std::string method = "GET", target, body;
  OutcomeView view;
};

Made outcome(std::uint64_t exchange, std::uint32_t clone, std::string target, std::uint16_t status,
             std::string body, std::int64_t latency_ns) {
  Made m;
  m.target = std::move(target);
  m.body = std::move(body);
  auto& v = m.view;
  v.exchange_id = exchange;
  v.clone = clone;
  v.facts.intended_ns = static_cast<std::int64_t>(exchange) * kMs;
  v.facts.sent_ns = v.facts.intended_ns;
  v.facts.bytes_sent = 100;
  v.facts.done_ns = v.facts.intended_ns + latency_ns;
  v.facts.status = status;
  v.response_digest = format::body_digest({reinterpret_cast<const std::uint8_t*>(m.body.data()), m.body.size()});
  return m;
}

// Views point into the Made; fix them up after it has its final address.
const OutcomeView& view(Made& m) {
  m.view.method = m.method;
  m.view.target = m.target;
  m.view.body = {reinterpret_cast<const std::uint8_t*>(m.body.data()), m.body.size()};
  return m.view;
}

const RouteComparison* row(const Comparison& c, const std::string& route) {
  for (const auto& r : c.routes)
    if (r.route == route) return &r;
  return nullptr;
}

const FieldDiff* field(const Comparison& c, const std::string& path) {
  for (const auto& f : c.fields)
    if (f.path == path) return &f;
  return nullptr;
}

// Item JSON with a price and a timestamp that differs on every response.
std::string item(std::uint64_t id, int price, std::mt19937_64& rng) {
  return R"({"id":)" + std::to_string(id) + R"(,"price":)" + std::to_string(price) + R"(,"ts":)" +
         std::to_string(rng() % 1000000) + "}";
}

}  // namespace

TEST_CASE("compare finds the slow route, the changed field and the status changes, and calls the timestamp noise",
          "[report][compare]") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> jitter(0, 0.3 * kMs);
  Comparer cmp({});
  const int n = 300;
  // Base: two clones of each exchange (clone pairs are a noise source).
  // Routes: /fast/{id} (same), /slow/{id} (+20 ms in the candidate), /item/{id} (price changes),
  // /order/{id} (500 for ids divisible by 10 in the candidate).
  auto route_of = [](int i) {
    switch (i % 4) {
      case 0: return std::string("/fast/");
      case 1: return std::string("/slow/");
      case 2: return std::string("/item/");
      default: return std::string("/order/");
    }
  };
  for (int i = 0; i < n; ++i)
    for (std::uint32_t clone = 0; clone < 2; ++clone) {
      const auto id = static_cast<std::uint64_t>(i);
      auto m = outcome(id, clone, route_of(i) + std::to_string(i), 200, item(id, 10, rng),
                       5 * kMs + static_cast<std::int64_t>(jitter(rng)));
      cmp.add_base(view(m));
    }
  cmp.end_base();
  for (int i = 0; i < n; ++i)
    for (std::uint32_t clone = 0; clone < 2; ++clone) {
      const auto id = static_cast<std::uint64_t>(i);
      const bool slow = i % 4 == 1, changed = i % 4 == 2, failing = i % 4 == 3 && i % 10 == 3;
      auto m = outcome(id, clone, route_of(i) + std::to_string(i), failing ? 500 : 200,
                       failing ? std::string("oops") : item(id, changed ? 12 : 10, rng),
                       (slow ? 25 : 5) * kMs + static_cast<std::int64_t>(jitter(rng)));
      cmp.add_candidate(view(m));
    }
  const RunSet none;
  const auto c = cmp.finish(none, none);

  CHECK(c.pairs == 2 * n);
  CHECK(c.base_unpaired == 0);
  CHECK(c.candidate_unpaired == 0);
  // Latency: exactly the slow route is slower. (Its p99 and p99.9 stay open: 150 values cannot
  // bound the base's p99 from above, so no claim is made there.)
  for (const auto& r : c.routes) {
    INFO(r.route);
    for (const auto& q : r.latency) {
      INFO("p" << q.p * 100 << " change " << q.change);
      if (r.route == "GET /slow/{id}" && q.p <= 0.95) CHECK(q.direction == 1);
      else CHECK(q.direction == 0);
    }
  }
  // Behaviour: the price changed on /item, the timestamp is noise everywhere.
  const auto* price = field(c, "$.price");
  REQUIRE(price != nullptr);
  CHECK(price->route == "GET /item/{id}");
  CHECK_FALSE(price->count.noise);
  CHECK(price->count.differing == price->count.compared);
  REQUIRE_FALSE(price->examples.empty());
  CHECK(price->examples[0].base == "10");
  CHECK(price->examples[0].candidate == "12");
  for (const auto& f : c.fields) {
    INFO(f.route << " " << f.path);
    CHECK(f.count.noise == (f.path == "$.ts"));
  }
  // Status: 200 -> 500 on /order for the failing ids.
  REQUIRE(c.statuses.size() == 1);
  CHECK(c.statuses[0].route == "GET /order/{id}");
  CHECK(c.statuses[0].from == 200);
  CHECK(c.statuses[0].to == 500);
  CHECK(c.statuses[0].count == 2 * 15);  // i % 4 == 3 and i % 10 == 3: 3, 23, ..., 283; 2 clones
  CHECK_FALSE(c.statuses[0].noise);
  CHECK(c.status_changes == 30);
  // Only /item bodies differ beyond noise.
  CHECK(row(c, "GET /item/{id}")->bodies_differing == row(c, "GET /item/{id}")->bodies_compared);
  CHECK(row(c, "GET /fast/{id}")->bodies_differing == 0);
  CHECK(c.bodies_differing == row(c, "GET /item/{id}")->bodies_differing);

  // The gate sees the same.
  std::vector<GateRule> rules;
  for (const char* t : {"p95>+10%", "status_changes>0", "body_diffs>1%", "errors>+50pp"})
    rules.push_back(*parse_gate_rule(t));
  const auto gate = evaluate_gate(rules, c);
  REQUIRE(gate.size() == 4);
  CHECK(gate[0].failed);
  REQUIRE(gate[0].findings.size() >= 1);
  CHECK(gate[0].findings.back().rfind("GET /slow/{id}: p95", 0) == 0);
  CHECK(gate[1].failed);
  CHECK(gate[2].failed);
  CHECK_FALSE(gate[3].failed);
}

TEST_CASE("without noise samples every difference counts, a second baseline makes it noise",
          "[report][compare]") {
  auto run = [](bool with_noise) {
    Comparer cmp({});
    for (std::uint64_t i = 0; i < 50; ++i) {
      auto m = outcome(i, 0, "/t/" + std::to_string(i), 200, R"({"ts":)" + std::to_string(i) + "}", kMs);
      cmp.add_base(view(m));
    }
    cmp.end_base();
    if (with_noise)
      for (std::uint64_t i = 0; i < 50; ++i) {
        auto m = outcome(i, 0, "/t/" + std::to_string(i), 200, R"({"ts":)" + std::to_string(i + 1) + "}", kMs);
        cmp.add_noise(view(m));
      }
    for (std::uint64_t i = 0; i < 50; ++i) {
      auto m = outcome(i, 0, "/t/" + std::to_string(i), 200, R"({"ts":)" + std::to_string(i + 2) + "}", kMs);
      cmp.add_candidate(view(m));
    }
    const RunSet none;
    return cmp.finish(none, none);
  };
  const auto plain = run(false);
  REQUIRE(plain.fields.size() == 1);
  CHECK_FALSE(plain.fields[0].count.noise);
  CHECK(plain.bodies_differing == 50);
  bool warned = false;
  for (const auto& w : plain.warnings) warned = warned || w.find("no noise samples") != std::string::npos;
  CHECK(warned);

  const auto noisy = run(true);
  REQUIRE(noisy.fields.size() == 1);
  CHECK(noisy.fields[0].count.noise);
  CHECK(noisy.fields[0].count.noise_differing == 50);
  CHECK(noisy.bodies_differing == 0);
}

TEST_CASE("the recorded trace response is a noise sample for the first clone", "[report][compare]") {
  Comparer cmp({});
  auto b = outcome(1, 0, "/x", 200, R"({"v":1,"at":"10:00"})", kMs);
  cmp.add_base(view(b));
  cmp.end_base();
  const std::string recorded = R"({"v":1,"at":"09:00"})";
  cmp.add_recorded(1, 200, {reinterpret_cast<const std::uint8_t*>(recorded.data()), recorded.size()});
  auto c = outcome(1, 0, "/x", 200, R"({"v":2,"at":"11:00"})", kMs);
  cmp.add_candidate(view(c));
  const RunSet none;
  const auto r = cmp.finish(none, none);
  REQUIRE(r.fields.size() == 2);
  CHECK(r.fields[0].path == "$.v");  // real differences first
  CHECK_FALSE(r.fields[0].count.noise);
  CHECK(r.fields[1].path == "$.at");
  CHECK(r.fields[1].count.noise);
}

TEST_CASE("bodies that were not kept are compared by digest and said so", "[report][compare]") {
  Comparer cmp({});
  auto b = outcome(1, 0, "/x", 200, "aaa", kMs);
  const OutcomeView bv = view(b);
  OutcomeView bare = bv;
  bare.body = {};  // not kept, digest of "aaa"
  cmp.add_base(bare);
  cmp.end_base();
  auto c = outcome(1, 0, "/x", 200, "bbb", kMs);
  cmp.add_candidate(view(c));
  const RunSet none;
  const auto r = cmp.finish(none, none);
  CHECK(r.bodies_digest_only == 1);
  REQUIRE(r.fields.size() == 1);
  CHECK(r.fields[0].path == kWholeBody);
}

TEST_CASE("error kinds that change are counted per route", "[report][compare]") {
  Comparer cmp({});
  auto b = outcome(1, 0, "/x", 200, "ok", kMs);
  cmp.add_base(view(b));
  cmp.end_base();
  auto c = outcome(1, 0, "/x", 0, "", kMs);
  c.view.facts.error = replay::OutcomeError::Timeout;
  cmp.add_candidate(view(c));
  const RunSet none;
  const auto r = cmp.finish(none, none);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].from == "none");
  CHECK(r.errors[0].to == "timeout");
  CHECK(r.error_changes == 1);
  CHECK(r.status_changes == 1);
}

TEST_CASE("a candidate run with no outcomes does not pass the gate: every rule is not evaluated",
          "[report][compare][gate]") {
  Comparer cmp({});
  for (std::uint64_t i = 0; i < 40; ++i) {
    auto b = outcome(i, 0, "/x/" + std::to_string(i), 200, "ok", 5 * kMs);
    cmp.add_base(view(b));
  }
  cmp.end_base();
  const RunSet none;
  const auto c = cmp.finish(none, none);  // the candidate's replay was killed before its first block

  std::vector<GateRule> rules;
  for (const char* t : {"p95>+10%", "errors>+1pp", "status_changes>0", "error_changes>0", "body_diffs>1%"})
    rules.push_back(*parse_gate_rule(t));
  const auto gate = evaluate_gate(rules, c);
  REQUIRE(gate.size() == rules.size());
  for (const auto& g : gate) {
    INFO(g.rule << ": " << g.summary);
    CHECK(g.failed);
    CHECK_FALSE(g.evaluated);
    CHECK(g.summary.rfind("not evaluated: ", 0) == 0);
  }
  REQUIRE_FALSE(gate[0].findings.empty());
  CHECK(gate[0].findings[0].rfind("(all): p95 5", 0) == 0);
  CHECK(gate[0].findings[0].find("missing in candidate") != std::string::npos);

  // What the CLI turns into exit 2 (empty input), and the warning every output shows.
  const Status st = check_compared(c);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == make_error_code(errc::empty_run));
  CHECK(st.error().where == "candidate");
  CHECK(st.error().message().find("the candidate has no outcomes") != std::string::npos);
  bool warned = false;
  for (const auto& w : c.warnings) warned = warned || w.find("the candidate has no outcomes") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("a route the base has 20 values for and the candidate none fails latency rules as missing",
          "[report][compare][gate]") {
  Comparer cmp({});
  auto both = [](std::uint64_t i) { return i < 40; };  // 0..39 /kept, 40..69 /gone, 70..79 /rare
  auto target = [](std::uint64_t i) {
    return std::string(i < 40 ? "/kept/" : i < 70 ? "/gone/" : "/rare/") + std::to_string(i);
  };
  for (std::uint64_t i = 0; i < 80; ++i) {
    auto b = outcome(i, 0, target(i), 200, "ok", 5 * kMs);
    cmp.add_base(view(b));
  }
  cmp.end_base();
  for (std::uint64_t i = 0; i < 80; ++i) {
    if (!both(i)) continue;
    auto m = outcome(i, 0, target(i), 200, "ok", 5 * kMs);
    cmp.add_candidate(view(m));
  }
  const RunSet none;
  const auto c = cmp.finish(none, none);
  REQUIRE(check_compared(c));

  const auto gate = evaluate_gate({*parse_gate_rule("p95>+10%"), *parse_gate_rule("p50>+20ms")}, c);
  for (const auto& g : gate) {
    INFO(g.rule << ": " << g.summary);
    CHECK(g.failed);
    CHECK(g.evaluated);
    // /gone (30 values) went missing; /rare (10 values) is too small to say.
    REQUIRE(g.findings.size() == 1);
    CHECK(g.findings[0].rfind("GET /gone/{id}: p", 0) == 0);
    CHECK(g.findings[0].find("missing in candidate") != std::string::npos);
  }
}

TEST_CASE("bodies cut at --keep-bodies are compared by digest and warned about and never diffed as bytes",
          "[report][compare]") {
  // A JSON body longer than the run kept: the prefix does not parse, and --ignore-field cannot
  // see the one field that differs. Its digest covers the whole body.
  auto body = [](int ts) {
    std::string b = R"({"ts":)" + std::to_string(ts) + R"(,"items":[)";
    for (int i = 0; i < 100; ++i) b += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(i) + "}";
    return b + "]}";
  };
  constexpr std::size_t kKept = 64;
  CompareOptions o;
  o.ignore_fields = {"$.ts"};
  Comparer cmp(o);
  auto b1 = outcome(1, 0, "/list", 200, body(1), kMs);
  auto b2 = outcome(2, 0, "/list", 200, body(1), kMs);
  auto c1 = outcome(1, 0, "/list", 200, body(2), kMs);  // differs in the ignored field only
  auto c2 = outcome(2, 0, "/list", 200, body(1), kMs);  // the same body
  for (Made* m : {&b1, &b2, &c1, &c2}) {
    view(*m);
    m->view.body = m->view.body.first(kKept);
  }
  cmp.add_base(b1.view);
  cmp.add_base(b2.view);
  cmp.end_base();
  cmp.add_candidate(c1.view);
  cmp.add_candidate(c2.view);
  const RunSet none;
  const auto c = cmp.finish(none, none);

  CHECK(c.bodies_compared == 2);
  CHECK(c.bodies_digest_only == 1);  // the equal pair is equal by digest
  CHECK(c.bodies_cut == 1);
  REQUIRE(c.fields.size() == 1);
  CHECK(c.fields[0].path == kWholeBody);
  REQUIRE_FALSE(c.fields[0].examples.empty());
  CHECK(c.fields[0].examples[0].base == "(cut at --keep-bodies)");  // not the kept bytes
  CHECK(c.fields[0].examples[0].candidate == "(cut at --keep-bodies)");
  bool warned = false;
  for (const auto& w : c.warnings) warned = warned || w.find("raise --keep-bodies") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("compare counts the requests it folds into (other routes) and warns", "[report][compare]") {
  CompareOptions o;
  o.report.max_routes = 2;
  Comparer cmp(o);
  const std::vector<std::string> targets = {"/a", "/b", "/c", "/d", "/a"};
  for (std::uint64_t i = 0; i < targets.size(); ++i) {
    auto b = outcome(i, 0, targets[i], 200, "ok", kMs);
    cmp.add_base(view(b));
  }
  cmp.end_base();
  for (std::uint64_t i = 0; i < targets.size(); ++i) {
    auto m = outcome(i, 0, targets[i], 200, "ok", kMs);
    cmp.add_candidate(view(m));
  }
  const RunSet none;
  const auto c = cmp.finish(none, none);
  CHECK(row(c, "(other routes)") != nullptr);
  CHECK(c.base.routes_folded == 2);  // /c and /d
  CHECK(c.candidate.routes_folded == 2);
  bool warned = false;
  for (const auto& w : c.base.warnings) warned = warned || w.find("\"(other routes)\"") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("compare says when the overall latency row is a sample", "[report][compare]") {
  CompareOptions o;
  o.max_latency_samples = 2;  // routes keep 2 values, the overall row 8
  Comparer cmp(o);
  for (std::uint64_t i = 0; i < 10; ++i) {  // 5 routes of 2: no route is sampled, the overall row is
    auto b = outcome(i, 0, "/r" + std::to_string(i / 2), 200, "ok", kMs);
    cmp.add_base(view(b));
  }
  cmp.end_base();
  const RunSet none;
  const auto c = cmp.finish(none, none);
  CHECK(c.latency_samples_dropped == 0);
  CHECK(c.overall_latency_samples_dropped == 2);
  CHECK(c.overall.latency[0].base.n == 8);
  bool warned = false;
  for (const auto& w : c.warnings)
    warned = warned || w.find("overall latency percentiles come from a uniform sample of 8") != std::string::npos;
  CHECK(warned);
}
