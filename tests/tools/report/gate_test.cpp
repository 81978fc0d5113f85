#include <catch2/catch.hpp>

#include "reprise/report/gate.hpp"

using namespace reprise::report;

TEST_CASE("gate rules parse with their units", "[report][gate]") {
  auto p95 = parse_gate_rule("p95>+10%");
  REQUIRE(p95);
  CHECK(p95->metric == GateRule::Metric::Latency);
  CHECK(p95->percentile == Approx(0.95));
  CHECK(p95->relative);
  CHECK(p95->threshold == Approx(0.10));
  auto p999 = parse_gate_rule("p99.9>+20ms");
  REQUIRE(p999);
  CHECK(p999->percentile == Approx(0.999));
  CHECK_FALSE(p999->relative);
  CHECK(p999->threshold == Approx(20e6));
  auto errors = parse_gate_rule("errors>+0.5pp");
  REQUIRE(errors);
  CHECK(errors->metric == GateRule::Metric::Errors);
  CHECK(errors->threshold == Approx(0.5));
  auto status = parse_gate_rule("status_changes>0");
  REQUIRE(status);
  CHECK_FALSE(status->share);
  CHECK(status->threshold == 0);
  auto body = parse_gate_rule("body_diffs>1%");
  REQUIRE(body);
  CHECK(body->share);
  CHECK(body->threshold == Approx(0.01));
}

TEST_CASE("bad gate rules are refused with the syntax", "[report][gate]") {
  for (const char* bad : {"p95>10%", "p97>+10%", "p95>+fast", "errors>+1%", "status_changes>x",
                          "latency>+1%", "p95", ">+1%", "body_diffs>", "p95>+10", "p99>+0.5"}) {
    INFO(bad);
    auto r = parse_gate_rule(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("--fail-on") != std::string::npos);
  }
}

TEST_CASE("gate thresholds that are not finite plain numbers are refused: errors>+nanpp could never fail",
          "[report][gate]") {
  for (const char* bad : {"errors>+nanpp", "errors>+infpp", "errors>+NaNpp", "errors>+0.5xpp", "errors>+ 1pp",
                          "errors>+-1pp", "errors>+1e3pp", "errors>+.pp", "p0x5F>+10%", "p9.5e1>+10%",
                          "p 95>+10%", "p95.0.0>+10%", "status_changes>1.5", "status_changes>+3"}) {
    INFO(bad);
    auto r = parse_gate_rule(bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().message().find("errors>+0.5pp") != std::string::npos);  // the syntax
  }
  auto plain = parse_gate_rule("errors>+2.5pp");
  REQUIRE(plain);
  CHECK(plain->threshold == Approx(2.5));
  auto p999 = parse_gate_rule("p99.9>+10%");
  REQUIRE(p999);
  CHECK(p999->percentile == Approx(0.999));
}

TEST_CASE("a latency rule needs both the size and the significance of the change", "[report][gate]") {
  Comparison c;
  c.overall.route = "(all)";
  QuantileDelta q;
  q.p = 0.95;
  q.base = {100'000'000, 90'000'000, 110'000'000, 1000};
  q.candidate = {130'000'000, 115'000'000, 140'000'000, 1000};
  q.change = 0.30;
  q.change_low = 0.05;
  q.change_high = 0.5;
  q.direction = 1;
  q.rise_testable = true;
  c.overall.latency = {q};
  RouteComparison wobbly;
  wobbly.route = "GET /wobbly";
  QuantileDelta w = q;
  w.direction = 0;  // +30 % but not significant
  wobbly.latency = {w};
  c.routes = {wobbly};
  auto rule = parse_gate_rule("p95>+10%");
  auto res = evaluate_gate({*rule}, c);
  REQUIRE(res.size() == 1);
  CHECK(res[0].failed);
  REQUIRE(res[0].findings.size() == 1);
  CHECK(res[0].findings[0].rfind("(all): p95", 0) == 0);
  auto loose = parse_gate_rule("p95>+50%");
  CHECK_FALSE(evaluate_gate({*loose}, c)[0].failed);
  auto absolute = parse_gate_rule("p95>+20ms");
  CHECK(evaluate_gate({*absolute}, c)[0].failed);
}

TEST_CASE("count rules compare counts or shares of pairs", "[report][gate]") {
  Comparison c;
  c.pairs = 1000;
  c.status_changes = 3;
  c.bodies_compared = 900;
  c.bodies_differing = 9;
  StatusChange s;
  s.route = "GET /x";
  s.from = 200;
  s.to = 500;
  s.count = 3;
  c.statuses = {s};
  CHECK(evaluate_gate({*parse_gate_rule("status_changes>0")}, c)[0].failed);
  CHECK_FALSE(evaluate_gate({*parse_gate_rule("status_changes>1%")}, c)[0].failed);
  CHECK_FALSE(evaluate_gate({*parse_gate_rule("body_diffs>1%")}, c)[0].failed);  // exactly 1 %
  CHECK(evaluate_gate({*parse_gate_rule("body_diffs>0.5%")}, c)[0].failed);
  CHECK_FALSE(evaluate_gate({*parse_gate_rule("error_changes>0")}, c)[0].failed);
}
