#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

#include "reprise/format/records.hpp"

using namespace reprise::format;

TEST_CASE("endpoints keep the address as two big-endian halves", "[format][records]") {
  // 192.0.2.1, stored IPv4-mapped: ::ffff:c000:201.
  const std::array<std::uint8_t, 16> v4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  const fb::Endpoint a = make_endpoint(v4, 8080, 4);
  CHECK(a.address_hi() == 0);
  CHECK(a.address_lo() == 0x0000ffffc0000201ull);
  CHECK(a.port() == 8080);
  CHECK(a.family() == 4);
  CHECK(endpoint_address(a) == v4);
  CHECK(endpoint_to_string(a) == "192.0.2.1:8080");

  // 2001:db8::8:800:200c:417a: every byte distinct enough to catch a swapped half or order.
  const std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                        0, 0x08, 0x08, 0x00, 0x20, 0x0c, 0x41, 0x7a};
  const fb::Endpoint b = make_endpoint(v6, 443, 6);
  CHECK(b.address_hi() == 0x20010db800000000ull);
  CHECK(b.address_lo() == 0x00080800200c417aull);
  CHECK(endpoint_address(b) == v6);
  CHECK(endpoint_to_string(b) == "[2001:db8::8:800:200c:417a]:443");
}
