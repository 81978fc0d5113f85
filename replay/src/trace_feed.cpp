#include "reprise/replay/trace_feed.hpp"

#include "reprise/format/error.hpp"
#include "reprise/format/reader.hpp"
#include "reprise/replay/error.hpp"
#include "reprise/text.hpp"

namespace reprise::replay {

namespace fb = format::fb;

namespace {

// Why an exchange is not replayed (None: it is).
enum class Skip : std::uint8_t { None, NoRequest, Incomplete, Upgrade, Method, Unsafe, Path };

Skip skip_reason(const fb::Exchange& x, const Rewrites& rewrites) {
  const auto flags = x.flags();
  if (x.request() == nullptr || (flags & fb::ExchangeFlags::NoRequest) != fb::ExchangeFlags::NONE)
    return Skip::NoRequest;
  if ((flags & (fb::ExchangeFlags::RequestIncomplete | fb::ExchangeFlags::RequestBodyTruncated)) !=
      fb::ExchangeFlags::NONE)
    return Skip::Incomplete;
  if ((flags & fb::ExchangeFlags::Upgrade) != fb::ExchangeFlags::NONE) return Skip::Upgrade;
  const auto* method = x.request()->method();
  const auto* target = x.request()->target();
  switch (rewrites.filter(method ? method->string_view() : std::string_view(),
                          target ? target->string_view() : std::string_view("/"))) {
    case FilterVerdict::Replay: return Skip::None;
    case FilterVerdict::Method: return Skip::Method;
    case FilterVerdict::Unsafe: return Skip::Unsafe;
    case FilterVerdict::Path: return Skip::Path;
  }
  return Skip::None;
}

// Counts an exchange read; true when it is replayed.
bool count(Skip skip, FeedStats& stats) {
  ++stats.exchanges;
  switch (skip) {
    case Skip::None: return true;
    case Skip::NoRequest: ++stats.skipped_no_request; break;
    case Skip::Incomplete: ++stats.skipped_incomplete; break;
    case Skip::Upgrade: ++stats.skipped_upgrade; break;
    case Skip::Method: ++stats.filtered_method; break;
    case Skip::Unsafe: ++stats.filtered_unsafe; break;
    case Skip::Path: ++stats.filtered_path; break;
  }
  return false;
}

// `cancel`: see format::ReaderOptions (a pipe's wait for bytes ends when the run stops).
Status open_trace(const std::string& path, std::unique_ptr<format::Reader>& out,
                  const std::atomic<bool>* cancel = nullptr) {
  format::ReaderOptions options;
  options.cancel = cancel;
  auto reader = format::Reader::open(path, options);
  if (!reader) return reader.take_error();
  if ((*reader)->kind() != format::FileKind::Trace)
    return fail(errc::input_error, path, "this is a run file; replay takes a trace (.rtrace)");
  out = std::move(*reader);
  return {};
}

}  // namespace

ResponseView response_view(const fb::Response& response) {
  ResponseView v;
  if (response.headers() != nullptr)
    for (const auto* h : *response.headers())
      v.headers.emplace_back(h->name() ? h->name()->string_view() : std::string_view(),
                             h->value() ? h->value()->string_view() : std::string_view());
  if (response.body() != nullptr)
    v.body = std::string_view(reinterpret_cast<const char*>(response.body()->data()), response.body()->size());
  return v;
}

Result<Detection> detect_correlation(const std::string& trace_path, const Plan& plan,
                                     const Target& target) {
  const CorrelationSettings& c = plan.correlation;
  ValueDetector detector(c.shape, c.max_tracked_sessions, c.max_values_per_session);
  std::unique_ptr<format::Reader> reader;
  if (Status st = open_trace(trace_path, reader); !st) return st.take_error();
  Detection d;
  format::Record record;
  for (;;) {
    if (detector.exchanges() >= c.detect_exchanges) {
      d.complete = false;
      break;
    }
    auto more = reader->next(record);
    if (!more) return more.take_error();
    if (!*more) break;
    const fb::Exchange* x = record.exchange();
    if (skip_reason(*x, plan.rewrites) != Skip::None) continue;
    const std::string wire = request_wire(*x->request(), target, plan.rewrites);
    if (x->response() != nullptr) {
      const ResponseView response = response_view(*x->response());
      detector.observe(x->session_id(), x->request_first_ns(), wire, &response, x->response_last_ns());
    } else {
      detector.observe(x->session_id(), x->request_first_ns(), wire, nullptr, 0);
    }
  }
  d.rules = detector.rules();
  d.exchanges = detector.exchanges();
  return d;
}

TraceFeed::TraceFeed(std::string trace_path, const Plan& plan, Target target,
                     std::size_t loop_cache_limit)
    : path_(std::move(trace_path)),
      plan_(plan),
      target_(std::move(target)),
      schedule_(plan_),
      tracker_(plan_.correlation),
      loop_cache_limit_(loop_cache_limit) {}

// Bytes an exchange kept for later passes holds, its shared parts counted as its own.
std::size_t TraceFeed::cached_bytes(const TraceRequest& r) {
  std::size_t n = sizeof(CachedExchange);
  if (r.wire) n += sizeof(std::string) + r.wire->capacity();
  if (const RequestCorrelation* c = r.correlation.get()) {
    n += sizeof(RequestCorrelation) + c->host.capacity() + c->path.capacity() +
         c->needs.capacity() * sizeof(Need);
    for (const Need& need : c->needs) n += need.place.capacity() + need.recorded.capacity();
  }
  return n;
}

Status TraceFeed::run(const Sink& sink, const std::atomic<bool>* stop) {
  auto stopped = [&] { return stop != nullptr && stop->load(); };
  bool refused = false;
  auto drain = [&] {
    while (!refused) {
      auto r = schedule_.pop();
      if (!r) return;
      if (!sink(std::move(*r))) refused = true;
    }
  };
  if (plan_.loop && path_ == "-")
    return fail(errc::bad_plan, "--loop", "cannot loop over standard input; give a trace file");

  // A loop keeps its first pass in memory (up to loop_cache_limit_) and replays the later
  // passes from there: same requests, same counts, without reading, decompressing, checking
  // and rewriting the trace again, and without a second correlation scan.
  std::vector<CachedExchange> cache;
  std::size_t cache_bytes = 0;
  bool caching = plan_.loop;
  auto keep = [&](Skip skip, const TraceRequest* r) {
    if (!caching) return;
    cache_bytes += r != nullptr ? cached_bytes(*r) : sizeof(CachedExchange);
    if (cache_bytes > loop_cache_limit_) {
      caching = false;
      ++stats_.loop_cache_overflows;
      std::vector<CachedExchange>().swap(cache);
      return;
    }
    cache.push_back({r != nullptr ? *r : TraceRequest{}, static_cast<std::uint8_t>(skip)});
  };

  bool from_memory = false;
  while (!schedule_.input_done() && !refused && !stopped()) {
    if (from_memory) {
      ++stats_.passes_from_memory;
      for (const CachedExchange& e : cache) {
        if (schedule_.input_done() || refused || stopped()) break;
        if (!count(static_cast<Skip>(e.skip), stats_)) continue;
        schedule_.push(e.request);
        drain();
      }
      schedule_.end_pass();
      continue;
    }
    // The run stopping while the reader waits on a quiet pipe is the end of input, not an error.
    auto failed = [&](Error e) -> Status {
      if (e.code == format::make_error_code(format::errc::cancelled)) return {};
      return e;
    };
    std::unique_ptr<format::Reader> reader;
    if (Status st = open_trace(path_, reader, stop); !st) return failed(st.take_error());
    format::Record record;
    while (!schedule_.input_done() && !refused && !stopped()) {
      auto more = reader->next(record);
      if (!more) return failed(more.take_error());
      if (!*more) break;
      const fb::Exchange* x = record.exchange();
      const Skip skip = skip_reason(*x, plan_.rewrites);
      if (!count(skip, stats_)) {
        keep(skip, nullptr);
        continue;
      }
      const auto* method = x->request()->method();
      TraceRequest r;
      r.exchange_id = x->id();
      r.session_id = x->session_id();
      r.connection_id = x->connection_id();
      r.recorded_ns = x->request_first_ns();
      if (x->response() != nullptr && x->response_last_ns() > x->request_first_ns())
        r.recorded_latency_ns = x->response_last_ns() - x->request_first_ns();
      const std::string_view method_name = method != nullptr ? method->string_view() : std::string_view();
      r.head = method_name == "HEAD";
      r.idempotent = is_idempotent(method_name);
      r.wire = std::make_shared<const std::string>(request_wire(*x->request(), target_, plan_.rewrites));
      const bool with_response = x->response() != nullptr && tracker_.reads_responses();
      const ResponseView response = with_response ? response_view(*x->response()) : ResponseView{};
      attach_correlation(r, tracker_.observe(r.session_id, r.exchange_id, r.recorded_ns, *r.wire,
                                             with_response ? &response : nullptr,
                                             with_response ? x->response_last_ns() : 0));
      keep(Skip::None, &r);
      schedule_.push(std::move(r));
      drain();
    }
    schedule_.end_pass();
    // Only a whole pass is replayed from memory; a cut one ends the loop anyway.
    from_memory = caching;
  }
  schedule_.finish();
  if (!stopped()) drain();
  return {};
}

}  // namespace reprise::replay
