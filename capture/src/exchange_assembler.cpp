#include "reprise/capture/exchange_assembler.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "reprise/capture/error.hpp"

// A connection's exchanges live in slots_, in request order, from the moment the request's header
// is parsed (or a response proves its request was lost) until both halves are finished; only the
// front slot may be emitted, so connection_index follows request order. The two parsers run
// independently; pump() advances them alternately until neither can move, because each may unblock
// the other: a parsed request header lets a waiting response start, a response decides whether
// requests held behind an upgrade request are HTTP at all.

namespace reprise::capture {

using Event = HttpMessageParser::Event;
using Message = HttpMessageParser::Message;

struct ConnectionAssembler::Slot {
  enum class Req : std::uint8_t { Absent, InProgress, Done };
  enum class Resp : std::uint8_t { None, InProgress, Done };

  HttpExchange x;
  Req req = Req::InProgress;
  Resp resp = Resp::None;
  bool after_client_loss = false;  // its request was found after requests were lost
  // First byte of the 1xx held in x.response: restored when the bytes after it turn out to be no
  // response at all, so the times stay those of the response the exchange shows.
  std::int64_t interim_first_ns = 0;

  bool unanswered() const { return resp == Resp::None && req != Req::Absent; }
  bool ready() const { return req != Req::InProgress && resp == Resp::Done; }
};

ConnectionAssembler::ConnectionAssembler(const ConnectionInfo& info,
                                         const ExchangeAssemblerOptions& options, HttpStats& stats,
                                         const ExchangeOutput& output)
    : info_(info),
      options_(options),
      stats_(stats),
      output_(output),
      requests_(HttpMessageParser::Kind::Request, options.http, stats),
      responses_(HttpMessageParser::Kind::Response, options.http, stats) {
  if (!info.syn_seen) {
    requests_.expect_midstream();
    responses_.expect_midstream();
  }
}

ConnectionAssembler::~ConnectionAssembler() = default;

std::int64_t ConnectionAssembler::oldest_open_ns() const {
  std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
  for (const auto& s : slots_) oldest = std::min(oldest, s->x.request_first_ns);
  // A message not slotted yet: a request before its header is whole, or response bytes that may
  // become an orphan.
  if (const auto t = requests_.held_since_ns()) oldest = std::min(oldest, *t);
  if (const auto t = responses_.held_since_ns()) oldest = std::min(oldest, *t);
  return oldest;
}

HttpMessageParser& ConnectionAssembler::parser(Direction dir) {
  return dir == Direction::ClientToServer ? requests_ : responses_;
}

void ConnectionAssembler::on_data(Direction dir, std::span<const std::uint8_t> bytes,
                                  std::int64_t ts_ns) {
  if (closed_) return;
  parser(dir).push(bytes, ts_ns);
  pump();
}

void ConnectionAssembler::on_gap(Direction dir, std::uint64_t missing, std::int64_t ts_ns,
                                 GapCause cause) {
  if (closed_) return;
  ++stats_.gaps;
  stats_.gap_bytes += missing;
  parser(dir).gap(missing, ts_ns, cause);
  pump();
}

void ConnectionAssembler::on_half_close(Direction dir, std::int64_t) {
  if (closed_) return;
  parser(dir).eof(true);
  pump();
}

void ConnectionAssembler::on_close(CloseReason reason, std::int64_t) {
  if (closed_) return;
  // Only a FIN ends a close-delimited body; the other reasons cut the connection short.
  const bool clean = reason == CloseReason::Fin;
  requests_.eof(clean);
  responses_.eof(clean);
  closing_ = true;
  pump();
  // Both parsers have reached their end, so every slot should be finished; anything that is not
  // (a defect) is still emitted, flagged, rather than dropped.
  for (auto& s : slots_) {
    if (s->req == Slot::Req::InProgress) {
      s->req = Slot::Req::Done;
      s->x.flags |= ExchangeFlags::RequestIncomplete;
    }
    if (s->resp == Slot::Resp::InProgress) s->x.flags |= ExchangeFlags::ResponseIncomplete;
    if (s->resp == Slot::Resp::None) s->x.flags |= ExchangeFlags::NoResponse;
    s->resp = Slot::Resp::Done;
  }
  request_slot_ = response_slot_ = upgrade_slot_ = nullptr;
  emit_ready();
  closed_ = true;
}

void ConnectionAssembler::pump() {
  for (;;) {
    const bool moved_requests = pump_requests();
    const bool moved_responses = pump_responses();
    if (!moved_requests && !moved_responses) break;
  }
  settle();
  emit_ready();
}

bool ConnectionAssembler::pump_requests() {
  bool progress = false;
  for (;;) {
    if (upgrade_slot_ != nullptr) {
      if (closing_ || responses_.finished()) {
        upgrade_slot_ = nullptr;  // no response will decide: read on as HTTP
      } else if (requests_.buffered() > options_.http.max_header_bytes) {
        ++stats_.wait_limit_hits;
        upgrade_slot_ = nullptr;
      } else {
        return progress;
      }
    }
    switch (requests_.next()) {
      case Event::NeedMore:
        return progress;
      case Event::MessageStart:
        if (requests_.start().after_loss) {
          client_loss_ = true;
          client_loss_cause_ = requests_.start().loss_cause;
        }
        requests_.begin({});
        break;
      case Event::HeaderDone:
        request_slot_ = add_request_slot(requests_.current());
        break;
      case Event::MessageDone:
      case Event::MessageBroken:
        finish_request(requests_.take());
        break;
    }
    progress = true;
  }
}

ConnectionAssembler::Slot* ConnectionAssembler::add_request_slot(const Message& m) {
  enforce_pending_limit();
  auto slot = new_slot();
  slot->x.request.method = m.request.method;  // pairing needs it before the request is complete
  slot->x.request_first_ns = m.first_ns;
  slot->x.request_last_ns = m.last_ns;
  slot->after_client_loss = client_loss_;
  Slot* s = slot.get();
  slots_.push_back(std::move(slot));
  ++stats_.requests;
  const auto depth = std::count_if(slots_.begin(), slots_.end(), [](const auto& p) {
    return p->req != Slot::Req::Absent && p->resp != Slot::Resp::Done;
  });
  stats_.note_pipelined_depth(static_cast<std::uint64_t>(depth));
  return s;
}

void ConnectionAssembler::enforce_pending_limit() {
  std::size_t unanswered = 0;
  for (const auto& s : slots_) unanswered += s->unanswered() ? 1 : 0;
  for (auto& s : slots_) {
    if (unanswered < options_.max_pending_requests) break;
    if (!s->unanswered()) continue;
    answer_none(*s, ExchangeFlags::None);
    ++stats_.pending_limit_hits;
    ++owed_responses_;
    --unanswered;
  }
}

void ConnectionAssembler::finish_request(Message&& m) {
  Slot* s = std::exchange(request_slot_, nullptr);
  if (s == nullptr) {
    // Broken before its header ended. Without a start line there is nothing to emit (the bytes
    // are counted as a parse error or skipped); with one, its response may still come.
    if (!m.has_start_line) return;
    s = add_request_slot(m);
  }
  HttpExchange& x = s->x;
  x.request = std::move(m.request);
  x.request_last_ns = m.last_ns;
  if (m.body_truncated) x.flags |= ExchangeFlags::RequestBodyTruncated;
  if (m.gap) x.flags |= ExchangeFlags::Gap;
  if (m.snaplen_cut) x.flags |= ExchangeFlags::SnaplenTruncated;
  if (m.parse_error) x.flags |= ExchangeFlags::ParseError;
  if (!m.complete) x.flags |= ExchangeFlags::RequestIncomplete;
  s->req = Slot::Req::Done;
  if (m.complete && m.upgrade && s->resp != Slot::Resp::Done) upgrade_slot_ = s;
}

bool ConnectionAssembler::pump_responses() {
  bool progress = false;
  for (;;) {
    switch (responses_.next()) {
      case Event::NeedMore:
        return progress;
      case Event::MessageStart:
        if (!start_response()) return progress;
        break;
      case Event::HeaderDone:
        break;
      case Event::MessageDone:
      case Event::MessageBroken:
        finish_response(responses_.take());
        break;
    }
    progress = true;
  }
}

// A response's first byte is buffered: pick the request it answers, or wait for it.
bool ConnectionAssembler::start_response() {
  const auto& start = responses_.start();
  Slot* s = response_slot_;  // set when a 1xx came first: the final response answers the same
  if (s == nullptr) {
    bool wait = false;
    s = choose_request(start, wait);
    if (wait) {
      if (responses_.buffered() <= options_.http.max_header_bytes) return false;
      ++stats_.wait_limit_hits;
      s = add_orphan(start.first_ns, ExchangeFlags::None);
    }
  }
  s->resp = Slot::Resp::InProgress;
  s->x.response_first_ns = start.first_ns;
  response_slot_ = s;
  HttpMessageParser::Setup setup;
  setup.skip_body = std::string_view(s->x.request.method) == "HEAD";
  setup.tunnel_on_2xx = std::string_view(s->x.request.method) == "CONNECT";
  responses_.begin(setup);
  return true;
}

ConnectionAssembler::Slot* ConnectionAssembler::choose_request(
    const HttpMessageParser::StartInfo& start, bool& wait) {
  if (start.after_loss) owed_responses_ = 0;  // responses were lost: the count means nothing
  if (owed_responses_ > 0) {
    --owed_responses_;
    return add_orphan(start.first_ns, ExchangeFlags::None);
  }
  // The unanswered slots are the candidates, in request order (no list is built: this runs once
  // per response).
  Slot* first = nullptr;
  for (auto& s : slots_) {
    if (s->unanswered()) {
      first = s.get();
      break;
    }
  }
  // Requests can still arrive unless the request side is over (wait-for-upgrade is not over).
  const bool requests_may_come = !requests_.finished();

  if (start.after_loss) {
    Slot* chosen = nullptr;
    for (auto& c : slots_) {
      if (c->unanswered() && c->x.request_first_ns <= start.first_ns) chosen = c.get();
    }
    if (chosen != nullptr) {
      for (auto& c : slots_) {
        if (c.get() == chosen) break;
        if (c->unanswered()) answer_none(*c, start.loss_cause);
      }
      chosen->x.flags |= start.loss_cause;
      return chosen;
    }
    if (first != nullptr || !requests_may_come)
      return add_orphan(start.first_ns, start.loss_cause);
    wait = true;
    return nullptr;
  }

  if (first != nullptr) {
    Slot* c = first;
    const bool across_loss = c->after_client_loss && client_loss_;
    if (c->x.request_first_ns <= start.first_ns) {
      if (across_loss) {
        client_loss_ = false;
        c->x.flags |= client_loss_cause_;
      }
      return c;
    }
    // The oldest unanswered request began after this response did, and requests arrive in order:
    // no request seen or to come is its request (lost, or none: an unsolicited 408 on close).
    return add_orphan(start.first_ns, across_loss ? client_loss_cause_ : ExchangeFlags::None);
  }
  if (!requests_may_come) {
    const ExchangeFlags cause = requests_.lost() ? requests_.loss_cause()
                                : client_loss_   ? client_loss_cause_
                                                 : ExchangeFlags::None;
    return add_orphan(start.first_ns, cause);
  }
  wait = true;
  return nullptr;
}

ConnectionAssembler::Slot* ConnectionAssembler::add_orphan(std::int64_t first_ns,
                                                           ExchangeFlags cause) {
  auto slot = new_slot();
  slot->req = Slot::Req::Absent;
  slot->x.has_request = false;
  slot->x.request_first_ns = slot->x.request_last_ns = first_ns;
  slot->x.flags |= cause;
  Slot* s = slot.get();
  // Before the first unanswered request: the orphan's request came before it.
  auto at =
      std::find_if(slots_.begin(), slots_.end(), [](const auto& p) { return p->unanswered(); });
  slots_.insert(at, std::move(slot));
  return s;
}

void ConnectionAssembler::finish_response(Message&& m) {
  Slot* s = response_slot_;
  if (s == nullptr) return;
  HttpExchange& x = s->x;
  const unsigned status = m.response.status;
  if (m.complete && status / 100 == 1 && status != 101) {
    // Interim (100 Continue, 103 Early Hints): kept until the final response replaces it, so a
    // connection that ends here still shows what was answered.
    ++stats_.informational_responses;
    x.response = std::move(m.response);
    s->interim_first_ns = x.response_first_ns;
    x.response_last_ns = m.last_ns;
    return;
  }
  if (!m.has_start_line) {
    // No status line was seen (garbage, or a gap right at its start): nothing here is a response,
    // so the request keeps waiting for one (the parser resyncs and says messages were lost). The
    // bytes are counted (parse_errors, resync_bytes_skipped).
    if (!s->x.has_request) {
      response_slot_ = nullptr;
      slots_.erase(
          std::find_if(slots_.begin(), slots_.end(), [s](const auto& p) { return p.get() == s; }));
    } else if (x.response.status == 0) {
      response_slot_ = nullptr;
      s->resp = Slot::Resp::None;
      x.response_first_ns = 0;
    } else {  // a 1xx came first: still awaiting the final response
      x.response_first_ns = s->interim_first_ns;
    }
    return;
  }
  response_slot_ = nullptr;
  x.response = std::move(m.response);
  x.response_last_ns = m.last_ns;
  ++stats_.responses;
  if (m.body_truncated) x.flags |= ExchangeFlags::ResponseBodyTruncated;
  if (m.gap) x.flags |= ExchangeFlags::Gap;
  if (m.snaplen_cut) x.flags |= ExchangeFlags::SnaplenTruncated;
  if (m.parse_error) x.flags |= ExchangeFlags::ParseError;
  if (!m.complete) x.flags |= ExchangeFlags::ResponseIncomplete;
  s->resp = Slot::Resp::Done;
  if (m.complete && m.upgrade) {
    x.flags |= ExchangeFlags::Upgrade;
    requests_.stop();  // the response parser stopped itself
    upgrade_slot_ = nullptr;
  } else if (s == upgrade_slot_) {
    upgrade_slot_ = nullptr;  // upgrade refused: what follows is HTTP
  }
}

void ConnectionAssembler::answer_none(Slot& s, ExchangeFlags flags) {
  s.resp = Slot::Resp::Done;
  s.x.flags |= ExchangeFlags::NoResponse | flags;
  if (&s == upgrade_slot_) upgrade_slot_ = nullptr;
}

// No response can come any more (the response side ended or left HTTP): settle what waits on one.
void ConnectionAssembler::settle() {
  if (!responses_.finished()) return;
  if (response_slot_ != nullptr) {  // a 1xx, then the end
    response_slot_->resp = Slot::Resp::Done;
    response_slot_->x.flags |= ExchangeFlags::ResponseIncomplete;
    response_slot_ = nullptr;
  }
  const ExchangeFlags cause = responses_.lost() ? responses_.loss_cause() : ExchangeFlags::None;
  for (auto& s : slots_) {
    if (s->unanswered()) answer_none(*s, cause);
  }
}

void ConnectionAssembler::emit_ready() {
  while (!slots_.empty() && slots_.front()->ready()) {
    std::unique_ptr<Slot> s = std::move(slots_.front());
    slots_.pop_front();
    emit(*s);
    if (!spare_slot_) {
      // The exchange was moved out; what is left is destroyed and the slot built anew in place.
      std::destroy_at(s.get());
      std::construct_at(s.get());
      spare_slot_ = std::move(s);
    }
  }
}

std::unique_ptr<ConnectionAssembler::Slot> ConnectionAssembler::new_slot() {
  if (spare_slot_) return std::move(spare_slot_);
  return std::make_unique<Slot>();
}

void ConnectionAssembler::emit(Slot& s) {
  HttpExchange& x = s.x;
  x.connection_id = info_.connection_id;
  x.connection_index = next_index_++;
  x.client = info_.client;
  x.server = info_.server;
  if (!x.has_response()) {
    x.response = HttpResponse{};
    x.response_first_ns = x.response_last_ns = 0;
  }
  // An orphan is placed at its response's first byte, which a final response after a 1xx moved.
  if (!x.has_request) x.request_first_ns = x.request_last_ns = x.response_first_ns;
  ++stats_.exchanges;
  if (!x.has_request) ++stats_.orphan_responses;
  const auto count = [&](ExchangeFlags f, std::uint64_t& counter) {
    if (has(x.flags, f)) ++counter;
  };
  count(ExchangeFlags::NoResponse, stats_.no_response);
  count(ExchangeFlags::ResponseIncomplete, stats_.response_incomplete);
  count(ExchangeFlags::RequestIncomplete, stats_.request_incomplete);
  count(ExchangeFlags::Gap, stats_.gap_exchanges);
  count(ExchangeFlags::RequestBodyTruncated, stats_.request_bodies_truncated);
  count(ExchangeFlags::ResponseBodyTruncated, stats_.response_bodies_truncated);
  count(ExchangeFlags::Upgrade, stats_.upgrades);
  output_(std::move(x));
}

// ---------------------------------------------------------------------------------------------

Status ExchangeAssembler::validate(const Options& options) {
  if (options.http.max_header_bytes == 0) {
    return fail(errc::bad_option, "http", "max_header_bytes must be at least 1");
  }
  if (options.max_pending_requests == 0) {
    return fail(errc::bad_option, "http", "max_pending_requests must be at least 1");
  }
  return {};
}

ExchangeAssembler::ExchangeAssembler(const Options& options, ExchangeOutput output)
    : options_(options), output_(std::move(output)) {
  if (Status s = validate(options_); !s) throw std::invalid_argument(s.error().message());
  if (!output_) throw std::invalid_argument("ExchangeAssembler: no output callback");
}

ExchangeAssembler::~ExchangeAssembler() = default;

StreamSink* ExchangeAssembler::open(const ConnectionInfo& info) {
  ++stats_.connections;
  auto c = std::make_unique<ConnectionAssembler>(info, options_, stats_, output_);
  StreamSink* sink = c.get();
  connections_.emplace(sink, std::move(c));
  return sink;
}

std::int64_t ExchangeAssembler::oldest_open_ns() const {
  std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
  for (const auto& [sink, c] : connections_) oldest = std::min(oldest, c->oldest_open_ns());
  return oldest;
}

void ExchangeAssembler::release(StreamSink* sink) {
  auto it = connections_.find(sink);
  if (it == connections_.end()) return;
  if (!it->second->closed()) it->second->on_close(CloseReason::EndOfInput, 0);
  connections_.erase(it);
}

}  // namespace reprise::capture
