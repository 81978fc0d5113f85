#include "reprise/replay/response_reader.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace reprise::replay {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

// Beast's parser with callbacks that keep only what the reader exposes.
struct ResponseReader::Parser final : http::basic_parser<false> {
  ResponseReader& out;
  explicit Parser(ResponseReader& r) : out(r) {}

  void on_request_impl(http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override {
    out.status_ = static_cast<std::uint16_t>(code);
  }
  void on_field_impl(http::field field, string_view name, string_view value, error_code&) override {
    if (out.keep_headers_ == Headers::All ||
        (out.keep_headers_ == Headers::SetCookie && field == http::field::set_cookie))
      out.headers_.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override {
    take(body);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    take(body);
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  void take(string_view body) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(body.data());
    out.digest_.update({p, body.size()});
    const std::size_t room = out.keep_body_ - std::min(out.keep_body_, out.body_.size());
    out.body_.insert(out.body_.end(), p, p + std::min(room, body.size()));
  }
};

// Beast's parser cannot be reset: a new one is built in place for each response, in storage
// the reader keeps (no allocation per response).
struct ResponseReader::ParserSlot {
  std::optional<Parser> parser;
};

ResponseReader::ResponseReader(bool head, std::size_t keep_body, Headers headers) {
  reset(head, keep_body, headers);
}

void ResponseReader::reset(bool head, std::size_t keep_body, Headers headers) {
  keep_body_ = keep_body;
  keep_headers_ = keep_body > 0 ? Headers::All : headers;
  reset(head);
}

void ResponseReader::reset(bool head) {
  head_ = head;
  state_ = State::NeedMore;
  status_ = 0;
  keep_alive_ = false;
  received_ = 0;
  digest_ = format::BodyDigest{};
  body_.clear();
  headers_.clear();
  error_.clear();
  held_.clear();
  reset_parser();
}

void ResponseReader::reset_parser() {
  if (!slot_) slot_ = std::make_unique<ParserSlot>();
  parser_ = &slot_->parser.emplace(*this);
  parser_->header_limit(64 * 1024);
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // streamed, never held whole
  parser_->eager(true);
  if (head_) parser_->skip(true);
}

ResponseReader::~ResponseReader() = default;

std::size_t ResponseReader::feed(std::span<const std::uint8_t> bytes) {
  if (state_ != State::NeedMore) return 0;
  // Beast consumes a header only once it is whole: bytes it leaves are held here and given
  // again with the next read (bounded by the header limit, which Beast enforces).
  std::span<const std::uint8_t> data = bytes;
  if (!held_.empty()) {
    held_.insert(held_.end(), bytes.begin(), bytes.end());
    data = held_;
  }
  std::size_t used = 0;
  while (state_ == State::NeedMore && used < data.size()) {
    error_code ec;
    const std::size_t n = parser_->put(boost::asio::buffer(data.data() + used, data.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) break;
    if (ec) {
      state_ = State::Error;
      error_ = ec.message();
      break;
    }
    if (parser_->is_done()) {
      if (status_ >= 100 && status_ < 200 && status_ != 101) {
        // An interim response (100 Continue): the final one follows on the same bytes.
        reset_parser();
        status_ = 0;
        headers_.clear();
        continue;
      }
      keep_alive_ = parser_->keep_alive();
      state_ = State::Done;
    }
    if (n == 0) break;
  }
  // Bytes after a complete response belong to no request of ours: report them unused.
  const std::size_t extra = state_ == State::Done ? data.size() - used : 0;
  if (state_ == State::NeedMore) {
    std::vector<std::uint8_t> rest(data.begin() + static_cast<std::ptrdiff_t>(used), data.end());
    held_ = std::move(rest);
  } else {
    held_.clear();
  }
  const std::size_t taken = bytes.size() - std::min(extra, bytes.size());
  received_ += taken;
  return taken;
}

void ResponseReader::eof() {
  if (state_ != State::NeedMore) return;
  error_code ec;
  // Beast completes a parser that has seen nothing at all (its state is "nothing yet", not
  // "start line"): a close before any byte would read as an empty success.
  if (received_ > 0) parser_->put_eof(ec);
  if (received_ > 0 && !ec && parser_->is_done()) {
    keep_alive_ = false;
    state_ = State::Done;
    return;
  }
  state_ = State::Error;
  error_ = received_ == 0 ? "connection closed before a response" : "connection closed mid-response";
}

}  // namespace reprise::replay
