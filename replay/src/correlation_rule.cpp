#include "reprise/replay/correlation_rule.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "reprise/replay/error.hpp"
#include "reprise/text.hpp"

namespace reprise::replay {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;
constexpr std::string_view kSyntax =
    "json:$.PATH, header:NAME, cookie:NAME, html:NAME, location or regex:PATTERN";

// ---- JSON paths ------------------------------------------------------------------------------

// One step of a path: a key, an index, or every element ([*]).
struct Step {
  enum Kind : std::uint8_t { Key, Index, Any } kind = Key;
  std::string key;
  std::size_t index = 0;
};

std::optional<std::vector<Step>> parse_path(std::string_view p) {
  if (p.empty() || p[0] != '$') return std::nullopt;
  std::vector<Step> steps;
  std::size_t i = 1;
  while (i < p.size()) {
    if (p[i] == '.') {
      std::size_t j = i + 1;
      while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
      if (j == i + 1) return std::nullopt;
      steps.push_back({Step::Key, std::string(p.substr(i + 1, j - i - 1)), 0});
      i = j;
    } else if (p[i] == '[') {
      if (p.substr(i, 3) == "[*]") {
        steps.push_back({Step::Any, {}, 0});
        i += 3;
      } else if (i + 1 < p.size() && p[i + 1] == '"') {
        // ["name"]: a JSON string, so quotes and backslashes inside are escaped.
        std::size_t j = i + 2;
        while (j < p.size() && p[j] != '"') j += p[j] == '\\' ? 2 : 1;
        if (j + 1 >= p.size() || p[j + 1] != ']') return std::nullopt;
        const json key = json::parse(p.substr(i + 1, j - i), nullptr, false);
        if (!key.is_string()) return std::nullopt;
        steps.push_back({Step::Key, key.get<std::string>(), 0});
        i = j + 2;
      } else {
        const auto close = p.find(']', i);
        if (close == std::string_view::npos || close == i + 1) return std::nullopt;
        std::size_t n = 0;
        for (std::size_t k = i + 1; k < close; ++k) {
          if (!std::isdigit(static_cast<unsigned char>(p[k]))) return std::nullopt;
          n = n * 10 + static_cast<std::size_t>(p[k] - '0');
        }
        steps.push_back({Step::Index, {}, n});
        i = close + 1;
      }
    } else {
      return std::nullopt;
    }
  }
  return steps;
}

bool plain_key(std::string_view k) {
  if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

std::string key_step(const std::string& key) {
  return plain_key(key) ? "." + key : "[" + json(key).dump() + "]";
}

bool looks_like_json(std::string_view b) {
  for (char c : b) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// A leaf's value as it would appear in a request: strings as they are, numbers as written.
std::optional<std::string> leaf_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

void walk_path(const json& v, const std::vector<Step>& steps, std::size_t at, std::string& place,
               const std::function<void(const std::string&, const json&)>& found, int depth) {
  if (depth > kMaxDepth) return;
  if (at == steps.size()) {
    found(place, v);
    return;
  }
  const Step& s = steps[at];
  const std::size_t keep = place.size();
  if (s.kind == Step::Key) {
    if (!v.is_object()) return;
    const auto it = v.find(s.key);
    if (it == v.end()) return;
    place += key_step(s.key);
    walk_path(*it, steps, at + 1, place, found, depth + 1);
  } else {
    if (!v.is_array()) return;
    const std::size_t from = s.kind == Step::Any ? 0 : s.index;
    const std::size_t to = s.kind == Step::Any ? v.size() : std::min(v.size(), s.index + 1);
    for (std::size_t i = from; i < to; ++i) {
      place += "[" + std::to_string(i) + "]";
      walk_path(v[i], steps, at + 1, place, found, depth + 1);
      place.resize(keep);
    }
  }
  place.resize(keep);
}

// Every string leaf with its concrete place and its path with indices generalised.
void walk_leaves(const json& v, std::string& place, std::string& general, int depth,
                 const std::function<void(const std::string&, const std::string&, const std::string&)>& found) {
  if (depth > kMaxDepth) return;
  if (v.is_string()) {
    found(place, general, v.get_ref<const std::string&>());
    return;
  }
  const std::size_t keep_place = place.size(), keep_general = general.size();
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string step = key_step(it.key());
      place += step;
      general += step;
      walk_leaves(it.value(), place, general, depth + 1, found);
      place.resize(keep_place);
      general.resize(keep_general);
    }
  } else if (v.is_array()) {
    general += "[*]";
    for (std::size_t i = 0; i < v.size(); ++i) {
      place += "[" + std::to_string(i) + "]";
      walk_leaves(v[i], place, general, depth + 1, found);
      place.resize(keep_place);
    }
    general.resize(keep_general);
  }
}

// ---- Set-Cookie, HTML, Location ---------------------------------------------------------------

// The name and value a Set-Cookie field sets (RFC 6265 5.2: the text before the first ';').
bool set_cookie_pair(std::string_view field, std::string_view& name, std::string_view& value) {
  const std::string_view pair = field.substr(0, field.find(';'));
  const auto eq = pair.find('=');
  if (eq == std::string_view::npos) return false;
  name = trim_ows(pair.substr(0, eq));
  value = trim_ows(pair.substr(eq + 1));
  return !name.empty();
}

bool istarts(std::string_view s, std::size_t at, std::string_view word) {
  return s.size() - at >= word.size() && iequals(s.substr(at, word.size()), word);
}

// The attributes of one tag: name="v", name='v' or name=v.
std::vector<std::pair<std::string_view, std::string_view>> tag_attributes(std::string_view tag) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::size_t i = 0;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  // Between attributes a '/' (of "/>") separates too; inside an unquoted value it is data.
  auto space = [&](char c) { return blank(c) || c == '/'; };
  while (i < tag.size()) {
    while (i < tag.size() && space(tag[i])) ++i;
    const std::size_t start = i;
    while (i < tag.size() && !space(tag[i]) && tag[i] != '=') ++i;
    const std::string_view name = tag.substr(start, i - start);
    while (i < tag.size() && (tag[i] == ' ' || tag[i] == '\t')) ++i;
    if (i >= tag.size() || tag[i] != '=') {
      if (!name.empty()) out.emplace_back(name, std::string_view{});
      if (i == start) ++i;
      continue;
    }
    ++i;
    while (i < tag.size() && (tag[i] == ' ' || tag[i] == '\t')) ++i;
    std::string_view value;
    if (i < tag.size() && (tag[i] == '"' || tag[i] == '\'')) {
      const char q = tag[i];
      const auto end = tag.find(q, i + 1);
      value = tag.substr(i + 1, (end == std::string_view::npos ? tag.size() : end) - i - 1);
      i = end == std::string_view::npos ? tag.size() : end + 1;
    } else {
      const std::size_t v0 = i;
      while (i < tag.size() && !blank(tag[i])) ++i;
      value = tag.substr(v0, i - v0);
      if (i == tag.size() && !value.empty() && value.back() == '/') value.remove_suffix(1);  // "/>"
    }
    out.emplace_back(name, value);
  }
  return out;
}

std::string_view attribute(const std::vector<std::pair<std::string_view, std::string_view>>& attrs,
                           std::string_view name) {
  for (const auto& [n, v] : attrs)
    if (iequals(n, name)) return v;
  return {};
}

// <input name=N value=V> and <meta name=N content=V> tags: (name, value, hidden-or-meta).
struct HtmlValue {
  std::string_view name, value;
  bool hidden_or_meta = false;
};

std::vector<HtmlValue> html_values(std::string_view body) {
  std::vector<HtmlValue> out;
  std::size_t i = 0;
  while ((i = body.find('<', i)) != std::string_view::npos) {
    const bool input = istarts(body, i + 1, "input");
    const bool meta = istarts(body, i + 1, "meta");
    const auto end = body.find('>', i);
    if (end == std::string_view::npos) break;
    if (input || meta) {
      const auto attrs = tag_attributes(body.substr(i + (input ? 6 : 5), end - i - (input ? 6 : 5)));
      const std::string_view name = attribute(attrs, "name");
      const std::string_view value = attribute(attrs, input ? "value" : "content");
      if (!name.empty() && !value.empty())
        out.push_back({name, value, meta || iequals(attribute(attrs, "type"), "hidden")});
    }
    i = end + 1;
  }
  return out;
}

// The path segments ("seg:N", from 0) and query values ("query:NAME") of a Location value.
std::vector<std::pair<std::string, std::string_view>> location_values(std::string_view location) {
  std::vector<std::pair<std::string, std::string_view>> out;
  location = location.substr(0, location.find('#'));
  // An absolute URL ("https://host/p", "https://host?q") or a protocol-relative one ("//host/p"):
  // the authority is not a path segment. "://" further on (in a query) does not count.
  const auto scheme = location.find("://");
  const auto first = location.find_first_of("/?");
  std::size_t authority = std::string_view::npos;
  if (scheme != std::string_view::npos && scheme < first) authority = scheme + 3;
  else if (location.substr(0, 2) == "//") authority = 2;
  if (authority != std::string_view::npos) {
    const auto rest = location.find_first_of("/?", authority);
    location = rest == std::string_view::npos ? std::string_view{} : location.substr(rest);
  }
  const auto q = location.find('?');
  std::string_view path = location.substr(0, q);
  std::size_t n = 0;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    const auto slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    if (!seg.empty()) out.emplace_back("seg:" + std::to_string(n), seg);
    ++n;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  if (q == std::string_view::npos) return out;
  std::string_view query = location.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && eq + 1 < pair.size())
      out.emplace_back("query:" + std::string(pair.substr(0, eq)), pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

// Response fields detection leaves alone: framing, caching, content description, CORS and
// security policy, server identity. Their values repeat in requests for reasons of their own.
bool ignored_header(std::string_view name) {
  static constexpr std::string_view kIgnored[] = {
      "date", "content-type", "content-length", "content-encoding", "content-language",
      "transfer-encoding", "connection", "keep-alive", "server", "vary", "cache-control",
      "expires", "last-modified", "age", "accept-ranges", "pragma", "via", "alt-svc",
      "strict-transport-security", "content-security-policy", "x-content-type-options",
      "x-frame-options", "referrer-policy", "permissions-policy", "set-cookie", "location",
      "x-powered-by", "link", "content-disposition", "retry-after", "report-to", "nel"};
  for (auto h : kIgnored)
    if (iequals(name, h)) return true;
  return istarts(name, 0, "access-control-");
}

}  // namespace

Result<CorrelationRule> parse_correlation_rule(std::string_view text) {
  CorrelationRule r;
  r.text = std::string(text);
  auto bad = [&](const std::string& why) {
    return fail(errc::bad_plan, "--correlate", "'" + r.text + "': " + why + " (rules: " + std::string(kSyntax) + ")");
  };
  if (text == "location") {
    r.source = ValueSource::Location;
    return r;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return bad("no KIND: prefix");
  const std::string_view kind = text.substr(0, colon);
  const std::string_view arg = text.substr(colon + 1);
  if (arg.empty()) return bad("nothing after '" + std::string(kind) + ":'");
  r.name = std::string(arg);
  if (kind == "json") {
    r.source = ValueSource::Json;
    if (!parse_path(arg)) return bad("not a JSON path ($, then .name, [\"name\"], [N] or [*] steps)");
  } else if (kind == "header") {
    r.source = ValueSource::Header;
  } else if (kind == "cookie") {
    r.source = ValueSource::SetCookie;
  } else if (kind == "html") {
    r.source = ValueSource::Html;
  } else if (kind == "regex") {
    r.source = ValueSource::Regex;
    r.name.clear();
    try {
      r.regex = std::regex(std::string(arg), std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return bad(std::string("not a regular expression: ") + e.what());
    }
  } else {
    return bad("unknown kind '" + std::string(kind) + "'");
  }
  if (r.source == ValueSource::Header || r.source == ValueSource::SetCookie || r.source == ValueSource::Html)
    for (char c : arg)
      if (static_cast<unsigned char>(c) <= ' ' || c == ':' || c == ';' || c == '=')
        return bad("not a field, cookie or input name");
  return r;
}

std::vector<FoundValue> extract_values(const std::vector<CorrelationRule>& rules,
                                       const ResponseView& response, std::size_t max_values) {
  std::vector<FoundValue> out;
  auto add = [&](std::uint32_t rule, std::string place, std::string_view value) {
    if (!value.empty() && out.size() < max_values) out.push_back({rule, std::move(place), std::string(value)});
  };
  std::optional<json> body;  // parsed once, when a JSON rule needs it
  for (std::uint32_t k = 0; k < rules.size(); ++k) {
    const CorrelationRule& r = rules[k];
    switch (r.source) {
      case ValueSource::Json: {
        if (!body) {
          body = looks_like_json(response.body) ? json::parse(response.body, nullptr, false) : json();
        }
        if (body->is_discarded() || body->is_null()) break;
        const auto steps = parse_path(r.name);
        if (!steps) break;
        std::string place = "$";
        walk_path(*body, *steps, 0, place, [&](const std::string& at, const json& v) {
          if (auto text = leaf_text(v)) add(k, at, *text);
        }, 0);
        break;
      }
      case ValueSource::Header: {
        std::size_t n = 0;
        for (const auto& [name, value] : response.headers)
          if (iequals(name, r.name)) add(k, "#" + std::to_string(n++), trim_ows(value));
        break;
      }
      case ValueSource::SetCookie: {
        std::size_t n = 0;
        for (const auto& [name, value] : response.headers) {
          std::string_view cn, cv;
          if (iequals(name, "set-cookie") && set_cookie_pair(value, cn, cv) && cn == r.name)
            add(k, "#" + std::to_string(n++), cv);
        }
        break;
      }
      case ValueSource::Html: {
        std::size_t n = 0;
        for (const auto& v : html_values(response.body))
          if (v.name == r.name) add(k, "#" + std::to_string(n++), v.value);
        break;
      }
      case ValueSource::Location:
        for (const auto& [name, value] : response.headers)
          if (iequals(name, "location"))
            for (auto& [place, v] : location_values(trim_ows(value))) add(k, place, v);
        break;
      case ValueSource::Regex: {
        std::size_t n = 0;
        auto search = [&](std::string_view text, const char* where) {
          for (std::cregex_iterator it(text.data(), text.data() + text.size(), r.regex), end;
               it != end; ++it) {
            const auto& m = *it;
            const auto& g = m.size() > 1 ? m[1] : m[0];
            if (g.matched) add(k, std::string(where) + std::to_string(n++), std::string_view(g.first, static_cast<std::size_t>(g.length())));
          }
        };
        std::string line;
        for (const auto& [name, value] : response.headers) {
          line.assign(name);
          line += ": ";
          line += value;
          search(line, "h#");
        }
        search(response.body, "b#");
        break;
      }
    }
  }
  return out;
}

double shannon_entropy(std::string_view value) {
  if (value.empty()) return 0;
  std::array<std::size_t, 256> counts{};
  for (unsigned char c : value) ++counts[c];
  double h = 0;
  const double n = static_cast<double>(value.size());
  for (std::size_t c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool looks_like_token(std::string_view value, const TokenShape& shape) {
  if (value.size() < shape.min_length) return false;
  bool letter = false, digit = false;
  for (unsigned char c : value) {
    if (c <= ' ' || c == 0x7f) return false;
    letter = letter || std::isalpha(c);
    digit = digit || std::isdigit(c);
  }
  if (!(letter && digit) && value.size() < 16) return false;
  return shannon_entropy(value) >= shape.min_entropy;
}

std::vector<Candidate> candidate_values(const ResponseView& response, const TokenShape& shape,
                                        std::size_t max_values) {
  std::vector<Candidate> out;
  auto add = [&](std::string rule, std::string place, std::string_view value) {
    if (out.size() < max_values && looks_like_token(value, shape))
      out.push_back({std::move(rule), std::move(place), std::string(value)});
  };
  // Places number the occurrences of one rule, as extract_values() does.
  std::vector<std::pair<std::string, std::size_t>> seen;
  auto occurrence = [&](std::string rule) {
    const bool header = rule.rfind("header:", 0) == 0;  // field names ignore case
    for (auto& [r, count] : seen)
      if (header ? iequals(r, rule) : r == rule) return "#" + std::to_string(++count);
    seen.emplace_back(std::move(rule), 0);
    return std::string("#0");
  };
  for (const auto& [name, value] : response.headers) {
    std::string_view cn, cv;
    if (iequals(name, "set-cookie")) {
      if (set_cookie_pair(value, cn, cv)) {
        std::string rule = "cookie:" + std::string(cn);
        std::string place = occurrence(rule);
        add(std::move(rule), std::move(place), cv);
      }
    } else if (iequals(name, "location")) {
      for (auto& [place, v] : location_values(trim_ows(value))) add("location", place, v);
    } else if (!ignored_header(name)) {
      std::string rule = "header:" + std::string(name);
      std::string place = occurrence(rule);
      add(std::move(rule), std::move(place), trim_ows(value));
    }
  }
  if (looks_like_json(response.body)) {
    const json body = json::parse(response.body, nullptr, false);
    if (!body.is_discarded()) {
      std::string place = "$", general = "$";
      walk_leaves(body, place, general, 0,
                  [&](const std::string& at, const std::string& rule, const std::string& v) {
                    add("json:" + rule, at, v);
                  });
    }
  } else if (response.body.find('<') != std::string_view::npos) {
    for (const auto& v : html_values(response.body)) {
      std::string rule = "html:" + std::string(v.name);
      std::string place = occurrence(rule);
      if (v.hidden_or_meta) add(std::move(rule), std::move(place), v.value);
    }
  }
  return out;
}

std::string percent_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace reprise::replay
