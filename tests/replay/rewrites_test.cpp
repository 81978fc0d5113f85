#include <catch2/catch.hpp>

#include "reprise/replay/rewrites.hpp"

using namespace reprise::replay;

TEST_CASE("filters: methods, unsafe methods, include and exclude paths", "[replay][rewrites]") {
  Rewrites none;
  CHECK(none.filter("DELETE", "/x") == FilterVerdict::Replay);
  CHECK(none.describe().empty());

  Rewrites w;
  w.skip_unsafe = true;
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) CHECK(w.filter(m, "/x") == FilterVerdict::Unsafe);
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) CHECK(w.filter(m, "/x") == FilterVerdict::Replay);

  w.methods = {"GET"};
  CHECK(w.filter("HEAD", "/x") == FilterVerdict::Method);
  CHECK(w.filter("POST", "/x") == FilterVerdict::Method);  // the method list is checked first

  Rewrites p;
  p.include_paths.push_back(*parse_path_filter("--include-path", "^/api/"));
  p.exclude_paths.push_back(*parse_path_filter("--exclude-path", "health|\\?debug="));
  CHECK(p.filter("GET", "/api/items") == FilterVerdict::Replay);
  CHECK(p.filter("GET", "/static/app.js") == FilterVerdict::Path);
  CHECK(p.filter("GET", "/api/health") == FilterVerdict::Path);
  CHECK(p.filter("GET", "/api/items?debug=1") == FilterVerdict::Path);  // the query counts too
}

TEST_CASE("path rewrites apply in order to every match", "[replay][rewrites]") {
  Rewrites w;
  w.paths.push_back(*parse_path_rewrite("^/v1/=>/v2/"));
  w.paths.push_back(*parse_path_rewrite("/([0-9]+)=>/n$1"));
  // In order: the second rule sees the first one's output, and rewrites every match.
  CHECK(w.rewrite_target("/v1/a/1/b/22") == "/v2/a/n1/b/n22");
  CHECK(w.rewrite_target("/v1/9") == "/v2/n9");
  CHECK(w.rewrite_target("/other") == "/other");
}

TEST_CASE("rewrite rules parse, and are described in flag syntax", "[replay][rewrites]") {
  Rewrites w;
  w.methods.push_back(*parse_method("get"));
  w.skip_unsafe = true;
  w.include_paths.push_back(*parse_path_filter("--include-path", "^/api/"));
  w.paths.push_back(*parse_path_rewrite("^/a=>/b"));
  w.drop_headers.push_back(*parse_drop_header("Cookie"));
  w.set_headers.push_back(*parse_set_header("X-Env: replay"));
  w.host_header = *parse_host_header("target");
  CHECK(w.drops("cookie"));
  CHECK(w.drops("x-env"));
  CHECK_FALSE(w.drops("Accept"));
  CHECK(w.describe() == std::vector<std::string>{"--method GET", "--skip-unsafe", "--include-path '^/api/'",
                                                 "--rewrite-path '^/a=>/b'", "--drop-header Cookie",
                                                 "--set-header 'X-Env: replay'", "--host-header target"});
}

TEST_CASE("bad rewrite rules name their flag", "[replay][rewrites]") {
  auto check = [](auto result, const char* flag) {
    REQUIRE_FALSE(result);
    CHECK(result.error().message().find(flag) != std::string::npos);
  };
  check(parse_path_rewrite("no arrow"), "--rewrite-path");
  check(parse_path_rewrite("([=>x"), "--rewrite-path");
  check(parse_path_filter("--include-path", "("), "--include-path");
  check(parse_set_header("no colon"), "--set-header");
  check(parse_set_header("Bad Name: v"), "--set-header");
  check(parse_drop_header("a b"), "--drop-header");
  check(parse_host_header("upstream"), "--host-header");
  check(parse_method("GE T"), "--method");
}
