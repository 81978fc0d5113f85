#include "reprise/replay/cookie_jar.hpp"

// parse_cookie_date: the date algorithm of RFC 6265 5.1.1 (Expires attributes), kept apart from
// the jar: it is a grammar of its own and is tested on its own.

#include <chrono>
#include <limits>

#include "reprise/text.hpp"
#include "cookie_time.hpp"

namespace reprise::replay {
namespace {

using namespace cookie_time;

// --- RFC 6265 5.1.1, the cookie-date token grammar ------------------------------------------

bool is_date_delimiter(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c == 0x09 || (c >= 0x20 && c <= 0x2F) || (c >= 0x3B && c <= 0x40) ||
         (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

std::size_t leading_digits(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  return n;
}

int to_int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// min*maxDIGIT ( non-digit *OCTET ): the digit run itself decides, since it stops at a
// non-digit or the end of the token.
std::optional<int> digits_then_anything(std::string_view token, std::size_t min, std::size_t max) {
  const std::size_t n = leading_digits(token);
  if (n < min || n > max) return std::nullopt;
  return to_int(token.substr(0, n));
}

struct Hms {
  int hour, minute, second;
};

// time = hms-time ( non-digit *OCTET ); hms-time = time-field ":" time-field ":" time-field;
// time-field = 1*2DIGIT.
std::optional<Hms> match_time(std::string_view token) {
  int fields[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    const std::size_t n = leading_digits(token);
    if (n < 1 || n > 2) return std::nullopt;
    fields[i] = to_int(token.substr(0, n));
    token.remove_prefix(n);
    if (i < 2) {
      if (token.empty() || token.front() != ':') return std::nullopt;
      token.remove_prefix(1);
    }
  }
  return Hms{fields[0], fields[1], fields[2]};
}

// month = ( "jan" / ... / "dec" ) *OCTET, case-insensitive: 1-12.
std::optional<unsigned> match_month(std::string_view token) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (token.size() < 3) return std::nullopt;
  for (unsigned i = 0; i < 12; ++i)
    if (iequals(token.substr(0, 3), kMonths[i])) return i + 1;
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> parse_cookie_date(std::string_view text) {
  std::optional<Hms> hms;
  std::optional<int> day_of_month, year_value;
  std::optional<unsigned> month_value;

  // Each token is tried as time, day-of-month, month, year in that order, and is consumed by the
  // first kind not found yet that it matches: that is how "21 Oct 2015" tells the day from the
  // year without knowing the format.
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_date_delimiter(text[i])) ++i;
    std::size_t end = i;
    while (end < text.size() && !is_date_delimiter(text[end])) ++end;
    const std::string_view token = text.substr(i, end - i);
    i = end;
    if (token.empty()) continue;
    if (!hms) {
      if ((hms = match_time(token))) continue;
    }
    if (!day_of_month) {
      if ((day_of_month = digits_then_anything(token, 1, 2))) continue;
    }
    if (!month_value) {
      if ((month_value = match_month(token))) continue;
    }
    if (!year_value) {
      if ((year_value = digits_then_anything(token, 2, 4))) continue;
    }
  }
  if (!hms || !day_of_month || !month_value || !year_value) return std::nullopt;

  int y = *year_value;
  if (y >= 70 && y <= 99) y += 1900;
  else if (y >= 0 && y <= 69) y += 2000;
  if (*day_of_month < 1 || *day_of_month > 31 || y < 1601 || hms->hour > 23 || hms->minute > 59 || hms->second > 59)
    return std::nullopt;

  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{*month_value},
                                        std::chrono::day{static_cast<unsigned>(*day_of_month)}};
  if (!ymd.ok()) return std::nullopt;  // 31 Apr, 29 Feb 2015
  const std::int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  const std::int64_t seconds = days * 86'400 + hms->hour * 3'600 + hms->minute * 60 + hms->second;
  // Years 1601-9999 fit in int64 seconds; only the nanosecond scaling can overflow.
  if (seconds > kNever / kNsPerSecond) return kNever;
  if (seconds < kLongAgo / kNsPerSecond) return kLongAgo;
  return seconds * kNsPerSecond;
}

}  // namespace reprise::replay
