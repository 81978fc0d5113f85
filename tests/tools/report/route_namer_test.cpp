#include <catch2/catch.hpp>

#include "reprise/report/route_namer.hpp"

using namespace reprise::report;

TEST_CASE("numbers, UUIDs and long hex segments become {id}", "[report][routes]") {
  CHECK(path_template("/users/42") == "/users/{id}");
  CHECK(path_template("/users/42/orders/9f86d081884c") == "/users/{id}/orders/{id}");
  CHECK(path_template("/o/123e4567-e89b-12d3-a456-426614174000/x") == "/o/{id}/x");
  CHECK(path_template("/") == "/");
  CHECK(path_template("") == "/");
  CHECK(path_template("/api/v2/items/") == "/api/v2/items/");
  // Words are not ids: short hex, letters only, mixed words.
  CHECK(path_template("/cafe/facade") == "/cafe/facade");
  CHECK(path_template("/static/app.js") == "/static/app.js");
  CHECK(path_template("/deadbeefcafe") == "/deadbeefcafe");  // 12 hex letters, no digit
}

TEST_CASE("routes drop the query and name absolute-form targets by their path", "[report][routes]") {
  RouteNamer namer;
  CHECK(namer.name("GET", "/items/7?sort=asc") == "GET /items/{id}");
  CHECK(namer.name("GET", "http://shop.example/items/8") == "GET /items/{id}");
  CHECK(namer.name("POST", "/items/7") == "POST /items/{id}");
  CHECK(namer.routes() == 2);
}

TEST_CASE("route rules are tried first, in order, with groups", "[report][routes]") {
  auto a = parse_route_rule("^GET /users/([a-z]+)$=>GET /users/{name}");
  auto b = parse_route_rule("/search=>search ($0)");
  REQUIRE(a);
  REQUIRE(b);
  auto c = parse_route_rule("^(GET|HEAD) /v([0-9])/=>API v$2");
  REQUIRE(c);
  RouteNamer namer({*a, *b, *c});
  CHECK(namer.name("GET", "/users/alice") == "GET /users/{name}");
  CHECK(namer.name("GET", "/users/42") == "GET /users/{id}");  // no rule matches: automatic
  CHECK(namer.name("GET", "/search?q=x") == "search (/search)");
  CHECK(namer.name("HEAD", "/v3/anything") == "API v3");
}

TEST_CASE("bad route rules say what is wrong", "[report][routes]") {
  CHECK_FALSE(parse_route_rule("no arrow"));
  CHECK_FALSE(parse_route_rule("=>name"));
  CHECK_FALSE(parse_route_rule("x=>"));
  auto bad = parse_route_rule("([=>x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("not a regular expression") != std::string::npos);
}

TEST_CASE("past the route limit new routes fold into one counted row", "[report][routes]") {
  RouteNamer namer({}, 2);
  CHECK(namer.name("GET", "/a") == "GET /a");
  CHECK(namer.name("GET", "/b") == "GET /b");
  CHECK(namer.name("GET", "/c") == RouteNamer::kOther);
  CHECK(namer.name("GET", "/c") == RouteNamer::kOther);
  CHECK(namer.name("GET", "/a/1") == RouteNamer::kOther);
  CHECK(namer.name("GET", "/a") == "GET /a");
  CHECK(namer.folded() == 3);
}
