#include "reprise/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace reprise {
namespace {

// Splits "1.5ms" into 1.5 and "ms"; false if there is no leading number.
bool split_number(std::string_view text, double& value, std::string_view& unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  const std::string number(text.substr(0, i));
  char* end = nullptr;
  value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value) || value < 0) return false;
  unit = text.substr(i);
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_duration_ns(std::string_view text) {
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit)) return std::nullopt;
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ns") scale = 1;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return std::nullopt;
  const double ns = v * scale;
  if (ns > 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(ns));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit)) return std::nullopt;
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "KiB") scale = 1024.0;
  else if (unit == "MiB") scale = 1024.0 * 1024;
  else if (unit == "GiB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB") scale = 1e3;
  else if (unit == "MB") scale = 1e6;
  else if (unit == "GB") scale = 1e9;
  else return std::nullopt;
  const double bytes = v * scale;
  if (bytes > 1.8e19) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::optional<double> parse_rate(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  double v = 0;
  std::string_view rest;
  if (!split_number(text.substr(0, slash), v, rest) || !rest.empty()) return std::nullopt;
  std::string_view per = text.substr(slash + 1);
  if (per.empty()) return std::nullopt;
  // "/s" means per 1 s; "/500ms" is allowed too.
  const bool digit = std::isdigit(static_cast<unsigned char>(per.front())) != 0;
  const auto ns = parse_duration_ns(digit ? per : std::string("1") + std::string(per));
  if (!ns || *ns <= 0) return std::nullopt;
  return v * 1e9 / static_cast<double>(*ns);
}

std::optional<double> parse_percent(std::string_view text) {
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit) || unit != "%") return std::nullopt;
  return v / 100.0;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string format_duration(std::int64_t ns) {
  char buf[32];
  const double a = std::fabs(static_cast<double>(ns));
  if (a >= 1e9) std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ns) / 1e9);
  else if (a >= 1e6) std::snprintf(buf, sizeof buf, "%.3g ms", static_cast<double>(ns) / 1e6);
  else if (a >= 1e3) std::snprintf(buf, sizeof buf, "%.3g us", static_cast<double>(ns) / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld ns", static_cast<long long>(ns));
  return buf;
}

std::string format_utc(std::int64_t unix_ns) {
  const std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  const int ms = static_cast<int>((unix_ns % 1'000'000'000) / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

}  // namespace reprise
