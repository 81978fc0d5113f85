#include "recorder_flags.hpp"

#include <cstdlib>

#include "cli_support.hpp"
#include "reprise/units.hpp"

namespace reprise::tools {

void add_recorder_flags(CLI::App& cmd, RecorderFlags& f) {
  f.options = {
      cmd.add_option("--session-key", f.session_key, "cookie:NAME | header:NAME | client-ip (default: linked cookies, tokens and connections)"),
      cmd.add_option("--host", f.hosts, "keep only requests for this Host (repeatable)"),
      cmd.add_option("--path", f.path, "keep only request targets matching this regex"),
      cmd.add_option("--method", f.methods, "keep only this method (repeatable)"),
      cmd.add_option("--sample", f.sample, "keep this share of sessions, whole (e.g. 10%)"),
      cmd.add_option("--seed", f.seed, "seed for --sample"),
      cmd.add_option("--redact-header", f.redact_headers, "replace this header's values by a stable hash (repeatable)"),
      cmd.add_option("--redact-body", f.redact_bodies, "replace body text matching this regex by a stable hash (repeatable)"),
      cmd.add_option("--max-body", f.max_body, "store at most this much of each body (default 1MiB, at most 16MiB; longer ones are flagged)"),
  };
}

std::string given_recorder_flag(const RecorderFlags& f) {
  for (const CLI::Option* o : f.options)
    if (o->count() > 0) return o->get_name();
  return "";
}

std::size_t max_body_bytes(const RecorderFlags& f) {
  // A record holds both bodies and must fit the trace writer's record limit (64 MiB): a larger
  // one would stop the recording at the first big upload instead of truncating it.
  constexpr std::size_t kMaxBody = std::size_t{16} << 20;
  const auto max_body = parse_size(f.max_body);
  if (!max_body) throw UsageError("--max-body: '" + f.max_body + "' is not a size (e.g. 1MiB)");
  if (*max_body > kMaxBody)
    throw UsageError("--max-body: at most 16MiB (a trace record holds both bodies), not '" + f.max_body + "'");
  return *max_body;
}

format::WriterOptions recording_writer_options() {
  format::WriterOptions o;
  o.level = 1;
  return o;
}

capture::RecorderOptions to_recorder_options(const RecorderFlags& f) {
  capture::RecorderOptions o;
  if (!f.session_key.empty()) {
    auto key = capture::parse_session_key(f.session_key);
    if (!key) throw UsageError(key.error().message());
    o.session = *key;
  }
  o.hosts = f.hosts;
  o.methods = f.methods;
  try {
    if (!f.path.empty()) o.path.emplace(f.path, std::regex::ECMAScript | std::regex::optimize);
    for (const auto& r : f.redact_bodies) o.redact_body.emplace_back(r, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError(std::string("--path/--redact-body: bad regular expression: ") + e.what());
  }
  o.redact_headers = f.redact_headers;
  // The % sign is required: "0.5" could mean half or half a percent.
  std::string pct = f.sample;
  const bool percent = !pct.empty() && pct.back() == '%';
  if (percent) pct.pop_back();
  char* end = nullptr;
  const double p = std::strtod(pct.c_str(), &end);
  if (!percent || pct.empty() || *end != '\0' || !(p > 0 && p <= 100))
    throw UsageError("--sample: '" + f.sample + "' (a percentage with its sign, in (0%, 100%], e.g. 10%)");
  o.sample = p / 100.0;
  o.sample_seed = f.seed;
  return o;
}

}  // namespace reprise::tools
