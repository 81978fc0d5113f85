#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "reprise/replay/clone_rewrite.hpp"
#include "reprise/replay/error.hpp"

using namespace reprise::replay;

namespace {

CloneRewrite rewrite(std::string_view text) {
  auto r = parse_clone_rewrite(text);
  REQUIRE(r);
  return std::move(*r);
}

std::string expanded(std::string text, std::uint32_t clone, bool expect_placeholder) {
  CHECK(expand_clone_placeholder(text, clone) == expect_placeholder);
  return text;
}

}  // namespace

TEST_CASE("parse_clone_rewrite reads the field kind, the name and an optional template",
          "[replay][correlation][clone]") {
  struct Case {
    const char* text;
    CloneField field;
    const char* name;
    const char* value_template;
  };
  for (const Case& c : {Case{"header:X-User-Id", CloneField::Header, "X-User-Id", ""},
                        Case{"query:user", CloneField::Query, "user", ""},
                        Case{"cookie:uid", CloneField::Cookie, "uid", ""},
                        Case{"header:X-User-Id=u{clone}", CloneField::Header, "X-User-Id", "u{clone}"},
                        Case{"query:user={value}.{clone}", CloneField::Query, "user", "{value}.{clone}"},
                        Case{"cookie:uid=a=b", CloneField::Cookie, "uid", "a=b"},  // the first '=' ends the name
                        Case{"header:X-Note=a: b;c", CloneField::Header, "X-Note", "a: b;c"}}) {
    INFO(c.text);
    const auto r = parse_clone_rewrite(c.text);
    REQUIRE(r);
    CHECK(r->field == c.field);
    CHECK(r->name == c.name);
    CHECK(r->value_template == c.value_template);
    CHECK(r->text == c.text);
  }
}

TEST_CASE("parse_clone_rewrite rejects unknown kinds, bad names, empty templates and line breaks",
          "[replay][correlation][clone]") {
  for (const std::string_view bad :
       {std::string_view(""), std::string_view("X-User-Id"), std::string_view("body:x"),
        std::string_view("Header:X-User-Id"), std::string_view("json:$.a"), std::string_view("header:"),
        std::string_view("header:=u{clone}"), std::string_view("header:X-User-Id="),
        std::string_view("header:X User"), std::string_view("header:a:b"), std::string_view("query:a&b"),
        std::string_view("query:a?b"), std::string_view("cookie:a;b"), std::string_view("cookie:a\tb"),
        std::string_view("header:X=a\r\nInjected: 1"), std::string_view("header:X=a\nb"),
        std::string_view("header:X=a\0b", 12)}) {
    INFO(std::string(bad));
    const auto r = parse_clone_rewrite(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == make_error_code(errc::bad_plan));
    CHECK(r.error().message().find("--clone-rewrite") != std::string::npos);
  }
}

TEST_CASE("value_for without a template keeps clone 0's value and suffixes the others",
          "[replay][correlation][clone]") {
  const CloneRewrite r = rewrite("header:X-User-Id");
  CHECK(r.value_for("alice", 0) == "alice");
  CHECK(r.value_for("alice", 1) == "alice-1");
  CHECK(r.value_for("alice", 3) == "alice-3");
  CHECK(r.value_for("alice", 4'000'000'000u) == "alice-4000000000");
  CHECK(r.value_for("", 0).empty());
}

TEST_CASE("value_for with a template applies it to every clone including 0", "[replay][correlation][clone]") {
  struct Case {
    const char* text;
    std::uint32_t clone;
    const char* expected;
  };
  for (const Case& c : {Case{"header:X-User-Id=u{clone}", 0, "u0"},
                        Case{"header:X-User-Id=u{clone}", 7, "u7"},
                        Case{"query:user={value}.{clone}", 0, "alice.0"},
                        Case{"query:user={value}.{clone}", 12, "alice.12"},
                        Case{"cookie:uid={clone}-{clone}-{value}-{value}", 2, "2-2-alice-alice"},
                        Case{"cookie:uid=fixed", 5, "fixed"},
                        Case{"cookie:uid={Clone}{value", 5, "{Clone}{value"}}) {
    INFO(c.text << " clone " << c.clone);
    CHECK(rewrite(c.text).value_for("alice", c.clone) == c.expected);
  }
  // The recorded value is not a template: placeholders in it stay as they are.
  CHECK(rewrite("header:X=<{value}>").value_for("a{clone}b{value}", 9) == "<a{clone}b{value}>");
}

TEST_CASE("expand_clone_placeholder replaces every {clone} and says whether there was one",
          "[replay][correlation][clone]") {
  CHECK(expanded("run-{clone}", 5, true) == "run-5");
  CHECK(expanded("{clone}/{clone}", 12, true) == "12/12");
  CHECK(expanded("{{clone}}", 0, true) == "{0}");
  CHECK(expanded("{clone}", std::numeric_limits<std::uint32_t>::max(), true) == "4294967295");
  CHECK(expanded("no placeholder", 5, false) == "no placeholder");
  CHECK(expanded("{clone", 5, false) == "{clone");
  CHECK(expanded("{CLONE}", 5, false) == "{CLONE}");
  CHECK(expanded("", 5, false).empty());
}
