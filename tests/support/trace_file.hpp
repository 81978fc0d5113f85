#pragma once
// Trace files for tests that replay, report on or inspect one: the exchange most of them start
// from, and the writer's open / append / close with every step checked (REQUIRE).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reprise/format/records.hpp"

namespace reprise::test {

// Exchange `id` of session (and connection) `session`: a request METHOD TARGET whose bytes all
// arrive at `request_ns`, answered 200 with no body, first byte 1 ms later, last byte 2 ms later.
format::fb::ExchangeT exchange(std::uint64_t id, std::uint64_t session, std::int64_t request_ns,
                               std::string method, std::string target);

// A header field, as the records hold them.
std::unique_ptr<format::fb::HeaderT> field(std::string name, std::string value);

// Sets a body and its recorded size.
void set_body(format::fb::RequestT& request, std::string_view body);
void set_body(format::fb::ResponseT& response, std::string_view body);

// Writes `exchanges` to `path` as a trace whose header says `source`; returns `path`.
std::string write_trace(const std::string& path, const std::vector<format::fb::ExchangeT>& exchanges,
                        const std::string& source = "test");

}  // namespace reprise::test
