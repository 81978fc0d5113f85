#include <catch2/catch.hpp>

#include "reprise/units.hpp"

using namespace reprise;

TEST_CASE("durations", "[format][units]") {
  CHECK(parse_duration_ns("250ms") == 250'000'000);
  CHECK(parse_duration_ns("30s") == 30'000'000'000);
  CHECK(parse_duration_ns("1.5s") == 1'500'000'000);
  CHECK(parse_duration_ns("2m") == 120'000'000'000);
  CHECK(parse_duration_ns("1h") == 3'600'000'000'000);
  CHECK(parse_duration_ns("100us") == 100'000);
  CHECK(parse_duration_ns("7") == 7'000'000'000);
  CHECK_FALSE(parse_duration_ns("fast"));
  CHECK_FALSE(parse_duration_ns("-1s"));
  CHECK_FALSE(parse_duration_ns("10 parsecs"));
  CHECK_FALSE(parse_duration_ns(""));
}

TEST_CASE("sizes", "[format][units]") {
  CHECK(parse_size("64KiB") == 65536);
  CHECK(parse_size("1MiB") == 1048576);
  CHECK(parse_size("500KB") == 500000);
  CHECK(parse_size("12") == 12);
  CHECK_FALSE(parse_size("12 apples"));
  CHECK(format_size(1536) == "1.5 KiB");
  CHECK(format_size(12) == "12 B");
}

TEST_CASE("time formatting", "[format][units]") {
  CHECK(format_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc(1'700'000'000'123'000'000) == "2023-11-14T22:13:20.123Z");
  CHECK(format_duration(1'500'000'000) == "1.500 s");
  CHECK(format_duration(2'500'000) == "2.5 ms");
}

TEST_CASE("rates and percentages", "[format][units]") {
  CHECK(parse_rate("500/s") == 500.0);
  CHECK(parse_rate("30/m") == 0.5);
  CHECK(parse_rate("10/ms") == 10000.0);
  CHECK(parse_rate("5/500ms") == 10.0);
  CHECK_FALSE(parse_rate("500"));
  CHECK_FALSE(parse_rate("fast/s"));
  CHECK_FALSE(parse_rate("5/"));
  CHECK(parse_percent("150%") == 1.5);
  CHECK(parse_percent("0.5%") == 0.005);
  CHECK_FALSE(parse_percent("150"));
  CHECK_FALSE(parse_percent("%"));
}
