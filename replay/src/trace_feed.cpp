#include "reprise/replay/trace_feed.hpp"

#include "reprise/format/reader.hpp"
#include "reprise/replay/error.hpp"

namespace reprise::replay {

namespace fb = format::fb;

namespace {

// Whether an exchange is replayed; when not, the reason is counted.
bool replayable(const fb::Exchange& x, const Rewrites& rewrites, FeedStats& stats) {
  const auto flags = x.flags();
  if (x.request() == nullptr || (flags & fb::ExchangeFlags::NoRequest) != fb::ExchangeFlags::NONE) {
    ++stats.skipped_no_request;
    return false;
  }
  if ((flags & (fb::ExchangeFlags::RequestIncomplete | fb::ExchangeFlags::RequestBodyTruncated)) !=
      fb::ExchangeFlags::NONE) {
    ++stats.skipped_incomplete;
    return false;
  }
  if ((flags & fb::ExchangeFlags::Upgrade) != fb::ExchangeFlags::NONE) {
    ++stats.skipped_upgrade;
    return false;
  }
  const auto* method = x.request()->method();
  const auto* target = x.request()->target();
  switch (rewrites.filter(method ? method->string_view() : std::string_view(),
                          target ? target->string_view() : std::string_view("/"))) {
    case FilterVerdict::Replay: return true;
    case FilterVerdict::Method: ++stats.filtered_method; return false;
    case FilterVerdict::Unsafe: ++stats.filtered_unsafe; return false;
    case FilterVerdict::Path: ++stats.filtered_path; return false;
  }
  return false;
}

Status open_trace(const std::string& path, std::unique_ptr<format::Reader>& out) {
  auto reader = format::Reader::open(path);
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
  FeedStats ignored;
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
    if (!replayable(*x, plan.rewrites, ignored)) continue;
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

TraceFeed::TraceFeed(std::string trace_path, const Plan& plan, Target target)
    : path_(std::move(trace_path)),
      plan_(plan),
      target_(std::move(target)),
      schedule_(plan_),
      tracker_(plan_.correlation) {}

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

  while (!schedule_.input_done() && !refused && !stopped()) {
    std::unique_ptr<format::Reader> reader;
    if (Status st = open_trace(path_, reader); !st) return st;
    format::Record record;
    while (!schedule_.input_done() && !refused && !stopped()) {
      auto more = reader->next(record);
      if (!more) return more.take_error();
      if (!*more) break;
      const fb::Exchange* x = record.exchange();
      ++stats_.exchanges;
      if (!replayable(*x, plan_.rewrites, stats_)) continue;
      const auto* method = x->request()->method();
      TraceRequest r;
      r.exchange_id = x->id();
      r.session_id = x->session_id();
      r.connection_id = x->connection_id();
      r.recorded_ns = x->request_first_ns();
      if (x->response() != nullptr && x->response_last_ns() > x->request_first_ns())
        r.recorded_latency_ns = x->response_last_ns() - x->request_first_ns();
      r.head = method != nullptr && method->string_view() == "HEAD";
      r.wire = std::make_shared<const std::string>(request_wire(*x->request(), target_, plan_.rewrites));
      const bool with_response = x->response() != nullptr && tracker_.reads_responses();
      const ResponseView response = with_response ? response_view(*x->response()) : ResponseView{};
      attach_correlation(r, tracker_.observe(r.session_id, r.exchange_id, r.recorded_ns, *r.wire,
                                             with_response ? &response : nullptr,
                                             with_response ? x->response_last_ns() : 0));
      schedule_.push(std::move(r));
      drain();
    }
    schedule_.end_pass();
  }
  schedule_.finish();
  if (!stopped()) drain();
  return {};
}

}  // namespace reprise::replay
