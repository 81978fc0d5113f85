#include "reprise/report/json_diff.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace reprise::report {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;
// From kMaxDepth down a subtree is compared with nlohmann's operator== and shown with dump(),
// both recursive: a body nesting deeper than kMaxParseDepth is compared as bytes instead. (The
// parse itself is iterative; a 64 KiB body nests 32,768 levels, enough to overflow a stack.)
constexpr int kMaxParseDepth = 256;
constexpr std::size_t kMaxValue = 120;

std::string shown(const json* v) {
  if (v == nullptr) return "(absent)";
  std::string s = v->dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > kMaxValue) s = s.substr(0, kMaxValue - 3) + "...";
  return s;
}

std::string shown(std::span<const std::uint8_t> body) {
  std::string s(reinterpret_cast<const char*>(body.data()), std::min(body.size(), kMaxValue));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '.';
  return body.size() > kMaxValue ? s + "..." : s;
}

bool plain_key(const std::string& k) {
  if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string child(const std::string& path, const std::string& key) {
  if (plain_key(key)) return path + "." + key;
  return path + "[" + json(key).dump() + "]";
}

// Cheap check before a parse: JSON bodies start with an object or an array.
bool looks_like_json(std::span<const std::uint8_t> b) {
  for (std::uint8_t c : b) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// The body as JSON; discarded when it does not parse or nests deeper than kMaxParseDepth.
json parse_bounded(std::span<const std::uint8_t> body) {
  bool too_deep = false;
  // Returning false discards the value, so past the limit nothing more is built.
  const json::parser_callback_t limit = [&too_deep](int depth, json::parse_event_t, json&) {
    too_deep = too_deep || depth > kMaxParseDepth;
    return !too_deep;
  };
  json j = json::parse(body.begin(), body.end(), limit, false);
  return too_deep ? json(json::value_t::discarded) : j;
}

class Differ {
 public:
  explicit Differ(const JsonDiffOptions& o) : options_(o) {}

  void walk(const json& a, const json& b, const std::string& path, int depth) {
    if (ignored(path)) return;
    if (a.type() != b.type() || depth >= kMaxDepth || (!a.is_object() && !a.is_array())) {
      if (a != b) add(path, &a, &b);
      return;
    }
    if (a.is_object()) {
      for (auto it = a.begin(); it != a.end(); ++it) {
        const auto other = b.find(it.key());
        if (other == b.end()) add_unless_ignored(child(path, it.key()), &it.value(), nullptr);
        else walk(it.value(), *other, child(path, it.key()), depth + 1);
      }
      for (auto it = b.begin(); it != b.end(); ++it)
        if (!a.contains(it.key())) add_unless_ignored(child(path, it.key()), nullptr, &it.value());
      return;
    }
    const std::string each = path + "[*]";
    if (a.size() != b.size()) {
      const json na(a.size()), nb(b.size());
      add_unless_ignored(path + "[#]", &na, &nb);
    }
    const auto n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) walk(a[i], b[i], each, depth + 1);
  }

  std::vector<FieldDifference> take() {
    std::sort(paths_.begin(), paths_.end(),
              [](const FieldDifference& x, const FieldDifference& y) { return x.path < y.path; });
    return std::move(paths_);
  }

 private:
  bool ignored(const std::string& path) const {
    for (const auto& p : options_.ignore) {
      if (path.compare(0, p.size(), p) != 0) continue;
      if (path.size() == p.size() || path[p.size()] == '.' || path[p.size()] == '[') return true;
    }
    return false;
  }
  void add_unless_ignored(const std::string& path, const json* a, const json* b) {
    if (!ignored(path)) add(path, a, b);
  }
  // The first values seen at a path are kept as its example; a path is listed once.
  void add(const std::string& path, const json* a, const json* b) {
    for (const auto& p : paths_)
      if (p.path == path) return;
    if (paths_.size() < options_.max_paths) paths_.push_back({path, shown(a), shown(b)});
  }

  const JsonDiffOptions& options_;
  std::vector<FieldDifference> paths_;
};

}  // namespace

std::vector<FieldDifference> diff_bodies(std::span<const std::uint8_t> base,
                                     std::span<const std::uint8_t> candidate,
                                     const JsonDiffOptions& options) {
  if (std::equal(base.begin(), base.end(), candidate.begin(), candidate.end())) return {};
  if (looks_like_json(base) && looks_like_json(candidate)) {
    const json a = parse_bounded(base);
    const json b = parse_bounded(candidate);
    if (!a.is_discarded() && !b.is_discarded()) {
      Differ d(options);
      d.walk(a, b, "$", 0);
      return d.take();
    }
  }
  for (const auto& p : options.ignore)
    if (p == kWholeBody) return {};
  return {{kWholeBody, shown(base), shown(candidate)}};
}

bool valid_field_path(std::string_view path) {
  if (path == kWholeBody) return true;
  if (path.empty() || path[0] != '$') return false;
  std::size_t i = 1;
  while (i < path.size()) {
    if (path[i] == '.') {
      std::size_t j = i + 1;
      while (j < path.size() && path[j] != '.' && path[j] != '[') ++j;
      if (j == i + 1) return false;
      i = j;
    } else if (path[i] == '[') {
      std::size_t close;
      if (i + 1 < path.size() && path[i + 1] == '"') {
        // A quoted key, as child() writes it (a JSON string): it may hold ']' and '\"'.
        std::size_t j = i + 2;
        while (j < path.size() && path[j] != '"') j += path[j] == '\\' ? 2 : 1;
        if (j >= path.size()) return false;
        close = j + 1;
      } else {
        close = path.find(']', i);
        if (close == std::string_view::npos) return false;
        const auto inside = path.substr(i + 1, close - i - 1);
        if (inside != "*" && inside != "#") return false;
      }
      if (close >= path.size() || path[close] != ']') return false;
      i = close + 1;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace reprise::report
