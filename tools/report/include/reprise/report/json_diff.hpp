#pragma once
// Field-by-field differences between two response bodies.
//
// Both bodies JSON: the result lists every path where they differ, as JSONPath-like strings with
// array positions generalised ("$.items[*].price"), each path once: a changed scalar, a changed
// type, a key present on one side only ("$.coupon"), an array of a different length
// ("$.items[#]"). Otherwise the bodies are compared as bytes and a difference is the path
// "(body)". Paths are stable across requests, so counting them per route shows which field
// changed in how many responses.
//
// Limits: bodies that do not parse as JSON, or nest deeper than 256 levels, are compared as
// bytes; values nested deeper than 64 levels are compared as a whole at that depth; past
// `max_paths` differing paths per pair the rest are not listed (the pair still counts as
// differing).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace reprise::report {

inline constexpr const char* kWholeBody = "(body)";

struct JsonDiffOptions {
  std::vector<std::string> ignore;  // paths (and everything under them) left out
  std::size_t max_paths = 64;
};

// One differing path, with the first values seen there (JSON text, cut at 120 bytes; "(absent)"
// for a missing key; for (body) the start of each body).
struct FieldDifference {
  std::string path;
  std::string base, candidate;
};

// The differing paths, sorted and unique; empty when the bodies are equivalent.
std::vector<FieldDifference> diff_bodies(std::span<const std::uint8_t> base,
                                     std::span<const std::uint8_t> candidate,
                                     const JsonDiffOptions& options = {});

// Checks an --ignore-field path: "$", then .name, ["name"], [*] or [#] steps.
bool valid_field_path(std::string_view path);

}  // namespace reprise::report
