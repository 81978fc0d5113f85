#pragma once
// Units used on every command line (../shared/DESIGN.md, "Conventions"): durations `250ms`,
// `30s`, `2m`, `1h`; sizes `64KiB`, `1MiB`, `500KB`; rates `500/s`; percentages `150%`.
// Parsers return std::nullopt on anything else; callers name the flag in their error.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reprise {

// "250ms", "30s", "1.5s", "2m", "1h", "100us", "10ns" → ns. A bare number is seconds.
std::optional<std::int64_t> parse_duration_ns(std::string_view text);
// "64KiB", "1MiB", "2GiB", "500KB", "1000", "1MB" → bytes (KB = 1000, KiB = 1024).
std::optional<std::uint64_t> parse_size(std::string_view text);
// "500/s", "30/m", "2.5/s", "10/ms" → events per second.
std::optional<double> parse_rate(std::string_view text);
// "150%" → 1.5, "0.5%" → 0.005. The % sign is required.
std::optional<double> parse_percent(std::string_view text);

// 1536 → "1.5 KiB"; 12 → "12 B".
std::string format_size(std::uint64_t bytes);
// 1'500'000'000 → "1.500 s"; 2'500'000 → "2.5 ms".
std::string format_duration(std::int64_t ns);
// Unix ns → "2026-11-24T01:02:03.456Z".
std::string format_utc(std::int64_t unix_ns);

}  // namespace reprise
