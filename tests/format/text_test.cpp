#include <catch2/catch.hpp>

#include <string>

#include "reprise/text.hpp"

using reprise::iequals;

TEST_CASE("iequals folds ASCII letters and nothing else") {
  CHECK(iequals("Content-Length", "content-length"));
  CHECK(iequals("SET-COOKIE", "set-cookie"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("Host", "Hosts"));
  CHECK_FALSE(iequals("Host", "Hast"));
  // Characters 0x20 apart that are not letters stay distinct: '@' / '`', '[' / '{', '^' / '~'.
  CHECK_FALSE(iequals("@", "`"));
  CHECK_FALSE(iequals("[", "{"));
  CHECK_FALSE(iequals("^", "~"));
  // Digits and punctuation compare exactly.
  CHECK(iequals("x-1_a", "X-1_A"));
  CHECK_FALSE(iequals("x-1", "x-2"));
  // A NUL byte is a byte like any other: the rest of the string still counts.
  CHECK_FALSE(iequals(std::string("a\0b", 3), std::string("a\0c", 3)));
  CHECK(iequals(std::string("A\0B", 3), std::string("a\0b", 3)));
  // Bytes above ASCII compare exactly (no locale folding).
  CHECK(iequals("\xc3\x89", "\xc3\x89"));
  CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));
}
