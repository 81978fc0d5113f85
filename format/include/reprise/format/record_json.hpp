#pragma once
// JSON views of headers, footers and records, for `reprise trace cat` (one object per line) and
// `trace info --json`. Bodies are text when they are valid UTF-8, otherwise base64 in a
// "body_base64" field. Timestamps stay integers in ns since the file's epoch.

#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "reprise/format/records.hpp"

namespace reprise::format {

struct JsonOptions {
  bool bodies = true;  // false: bodies are left out (their sizes stay)
};

nlohmann::json to_json(const fb::Exchange& e, const JsonOptions& options = {});
nlohmann::json to_json(const fb::Outcome& o, const JsonOptions& options = {});
nlohmann::json to_json(const fb::FileHeader& h);

// Names of the set bits of ExchangeFlags, e.g. ["gap", "no_response"].
nlohmann::json flag_names(fb::ExchangeFlags flags);
const char* error_kind_name(fb::ErrorKind kind);

bool is_utf8(std::span<const std::uint8_t> bytes);
std::string base64(std::span<const std::uint8_t> bytes);

}  // namespace reprise::format
