#include "reprise/replay/target.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "reprise/replay/error.hpp"
#include "reprise/text.hpp"

namespace reprise::replay {
namespace {

std::string_view view(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view{} : std::string_view(s->data(), s->size());
}

bool hop_by_hop(std::string_view name, const std::vector<std::string>& named_by_connection) {
  static constexpr std::string_view kFields[] = {
      "connection", "keep-alive", "proxy-connection", "te",
      "trailer",    "transfer-encoding", "upgrade", "content-length"};
  for (auto f : kFields)
    if (iequals(name, f)) return true;
  for (const auto& n : named_by_connection)
    if (iequals(name, n)) return true;
  return false;
}

// Field names listed in Connection headers ("Connection: close, X-Foo" names X-Foo).
std::vector<std::string> connection_options(const format::fb::Request& r) {
  std::vector<std::string> out;
  if (r.headers() == nullptr) return out;
  for (const auto* h : *r.headers())
    if (iequals(view(h->name()), "connection"))
      for_each_list_item(view(h->value()), [&](std::string_view item) { out.emplace_back(item); });
  return out;
}

}  // namespace

Result<Target> Target::parse(std::string_view url) {
  const std::string given(url);
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://")
    return fail(errc::bad_target, "--target",
                "'" + given + "': https targets are not supported by this build; replay over "
                "http:// (e.g. to a TLS-terminating proxy's plain listener)");
  if (rest.substr(0, 7) != "http://")
    return fail(errc::bad_target, "--target", "'" + given + "': expected http://host[:port]");
  rest.remove_prefix(7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos)
    return fail(errc::bad_target, "--target",
                "'" + given + "': give only scheme, host and port; request paths come from the "
                "trace");
  Target t;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos)
      return fail(errc::bad_target, "--target", "'" + given + "': unclosed [ in an IPv6 address");
    t.host = std::string(rest.substr(1, close - 1));
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return fail(errc::bad_target, "--target", "'" + given + "': expected :port after ]");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    t.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (t.host.empty()) return fail(errc::bad_target, "--target", "'" + given + "': no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return fail(errc::bad_target, "--target", "'" + given + "': bad port");
    t.port = static_cast<std::uint16_t>(port);
  }
  const std::string host_text = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  t.authority = t.port == 80 ? host_text : host_text + ":" + std::to_string(t.port);
  t.url = "http://" + host_text + ":" + std::to_string(t.port);
  return t;
}

std::string request_wire(const format::fb::Request& r, const Target& target, const Rewrites& rewrites) {
  std::string out;
  const auto* body = r.body();
  out.reserve(256 + (body ? body->size() : 0));
  out += view(r.method());
  out += ' ';
  const std::string_view recorded_target = r.target() ? view(r.target()) : std::string_view("/");
  if (rewrites.paths.empty()) out += recorded_target;
  else out += rewrites.rewrite_target(recorded_target);
  out += " HTTP/1.1\r\n";
  const auto named = connection_options(r);
  const bool target_host = rewrites.host_header == HostHeader::Target;
  bool host = false;
  auto field = [&out](std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  };
  if (r.headers() != nullptr) {
    for (const auto* h : *r.headers()) {
      const auto name = view(h->name());
      if (hop_by_hop(name, named) || rewrites.drops(name)) continue;
      if (iequals(name, "host")) {
        if (target_host) continue;
        host = true;
      }
      field(name, view(h->value()));
    }
  }
  for (const auto& [name, value] : rewrites.set_headers) {
    field(name, value);
    host = host || iequals(name, "host");
  }
  if (!host) field("Host", target.authority);
  const std::string_view method = view(r.method());
  const bool body_expected = method == "POST" || method == "PUT" || method == "PATCH";
  if ((body != nullptr && body->size() > 0) || body_expected)
    out += "Content-Length: " + std::to_string(body ? body->size() : 0) + "\r\n";
  out += "\r\n";
  if (body != nullptr) out.append(reinterpret_cast<const char*>(body->data()), body->size());
  return out;
}

}  // namespace reprise::replay
