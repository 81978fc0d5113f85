#pragma once
// JSON text for output. Traces keep bytes as captured and flags as given, so strings need not be
// UTF-8; nlohmann's dump() throws on them by default, which would end a command with an
// uncaught exception. Here invalid sequences become U+FFFD instead.

#include <string>

#include <nlohmann/json.hpp>

namespace reprise {

// indent -1: one line; else pretty-printed with that many spaces.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace reprise
