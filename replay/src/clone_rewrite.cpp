#include "reprise/replay/clone_rewrite.hpp"

#include "reprise/replay/error.hpp"

namespace reprise::replay {

namespace {

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
}

}  // namespace

std::string CloneRewrite::value_for(std::string_view recorded, std::uint32_t clone) const {
  if (value_template.empty())
    return clone == 0 ? std::string(recorded) : std::string(recorded) + "-" + std::to_string(clone);
  std::string out = value_template;
  expand_clone_placeholder(out, clone);
  replace_all(out, "{value}", recorded);
  return out;
}

bool expand_clone_placeholder(std::string& text, std::uint32_t clone) {
  if (text.find("{clone}") == std::string::npos) return false;
  replace_all(text, "{clone}", std::to_string(clone));
  return true;
}

Result<CloneRewrite> parse_clone_rewrite(std::string_view text) {
  CloneRewrite r;
  r.text = std::string(text);
  auto bad = [&](const std::string& why) {
    return fail(errc::bad_plan, "--clone-rewrite",
                "'" + r.text + "': " + why +
                    " (header:NAME, query:NAME or cookie:NAME, optionally =TEMPLATE with {clone} "
                    "and {value})");
  };
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return bad("no KIND: prefix");
  const std::string_view kind = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  if (kind == "header") r.field = CloneField::Header;
  else if (kind == "query") r.field = CloneField::Query;
  else if (kind == "cookie") r.field = CloneField::Cookie;
  else return bad("unknown kind '" + std::string(kind) + "'");
  if (const auto eq = rest.find('='); eq != std::string_view::npos) {
    r.value_template = std::string(rest.substr(eq + 1));
    rest = rest.substr(0, eq);
    if (r.value_template.empty()) return bad("empty template after '='");
    for (char c : r.value_template) {
      if (c == '\r' || c == '\n' || c == '\0') return bad("the template holds a line break");
      // A query or cookie value goes into the request as given: no separators of its own.
      if (r.field != CloneField::Header && (c == ' ' || c == '&' || c == '#' || c == ';' || c == '\t'))
        return bad("a query or cookie template cannot hold ' ', '&', '#', ';' (percent-encode them)");
    }
  }
  if (rest.empty()) return bad("no name");
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= ' ' || c == ':' || c == ';' || c == '&' || c == '?')
      return bad("not a field, query or cookie name");
  r.name = std::string(rest);
  return r;
}

}  // namespace reprise::replay
