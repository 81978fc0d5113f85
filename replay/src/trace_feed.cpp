#include "reprise/replay/trace_feed.hpp"

#include "reprise/format/reader.hpp"
#include "reprise/replay/error.hpp"

namespace reprise::replay {

namespace fb = format::fb;

TraceFeed::TraceFeed(std::string trace_path, const Plan& plan, Target target)
    : path_(std::move(trace_path)), plan_(plan), target_(std::move(target)), schedule_(plan) {}

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
    auto reader = format::Reader::open(path_);
    if (!reader) return reader.take_error();
    if ((*reader)->kind() != format::FileKind::Trace)
      return fail(errc::input_error, path_, "this is a run file; replay takes a trace (.rtrace)");
    format::Record record;
    while (!schedule_.input_done() && !refused && !stopped()) {
      auto more = (*reader)->next(record);
      if (!more) return more.take_error();
      if (!*more) break;
      const fb::Exchange* x = record.exchange();
      ++stats_.exchanges;
      const auto flags = x->flags();
      if (x->request() == nullptr || (flags & fb::ExchangeFlags::NoRequest) != fb::ExchangeFlags::NONE) {
        ++stats_.skipped_no_request;
        continue;
      }
      if ((flags & (fb::ExchangeFlags::RequestIncomplete | fb::ExchangeFlags::RequestBodyTruncated)) !=
          fb::ExchangeFlags::NONE) {
        ++stats_.skipped_incomplete;
        continue;
      }
      if ((flags & fb::ExchangeFlags::Upgrade) != fb::ExchangeFlags::NONE) {
        ++stats_.skipped_upgrade;
        continue;
      }
      const auto* method = x->request()->method();
      const auto* target = x->request()->target();
      switch (plan_.rewrites.filter(method ? method->string_view() : std::string_view(),
                                    target ? target->string_view() : std::string_view("/"))) {
        case FilterVerdict::Replay: break;
        case FilterVerdict::Method: ++stats_.filtered_method; continue;
        case FilterVerdict::Unsafe: ++stats_.filtered_unsafe; continue;
        case FilterVerdict::Path: ++stats_.filtered_path; continue;
      }
      TraceRequest r;
      r.exchange_id = x->id();
      r.session_id = x->session_id();
      r.connection_id = x->connection_id();
      r.recorded_ns = x->request_first_ns();
      if (x->response() != nullptr && x->response_last_ns() > x->request_first_ns())
        r.recorded_latency_ns = x->response_last_ns() - x->request_first_ns();
      r.head = method != nullptr && method->string_view() == "HEAD";
      r.wire = std::make_shared<const std::string>(request_wire(*x->request(), target_, plan_.rewrites));
      schedule_.push(r);
      drain();
    }
    schedule_.end_pass();
  }
  schedule_.finish();
  if (!stopped()) drain();
  return {};
}

}  // namespace reprise::replay
