// Fuzz target: the recording proxy's relay of one connection's messages, the code that stands
// between a client and the upstream. Whatever a sender writes, each message the relay completes
// must go out as exactly one well-framed message: a fresh parser reads the forwarded bytes as
// one whole message and nothing after it (no request smuggled behind it), with no hop-by-hop
// field but the relay's own Connection, and the recorded body is a prefix of the forwarded one
// with its full size counted.
//
// Input: a setup byte (requests or responses, HEAD, the relay's Connection, limits), then
// pieces as the socket gives them: (byte & 0x7F) + 1 bytes, or with bit 7 a 16-bit length;
// 0xFF is the sender's close.

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "targets.hpp"
#include "reprise/capture/message_relay.hpp"

namespace reprise::fuzz {
namespace {

namespace http = boost::beast::http;
using capture::MessageRelay;

template <bool isRequest>
void check_forwarded(const std::string& forward, bool head_request, const MessageRelay& relay) {
  http::parser<isRequest, http::string_body> p;
  p.header_limit(std::numeric_limits<std::uint32_t>::max());
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(true);
  if constexpr (!isRequest) {
    if (head_request) p.skip(true);
  }
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < forward.size() && !p.is_done()) {
    const std::size_t n = p.put(boost::asio::buffer(forward.data() + used, forward.size() - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (!ec && !p.is_done() && used == forward.size()) p.put_eof(ec);  // a body the close ends
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(p.is_done());
  FUZZ_CHECK(used == forward.size());  // one message, nothing behind it

  const auto& m = p.get();
  std::size_t connection_fields = 0, host_fields = 0;
  for (const auto& f : m) {
    const auto name = f.name();
    FUZZ_CHECK(name != http::field::keep_alive && name != http::field::proxy_connection &&
               name != http::field::te && name != http::field::trailer && name != http::field::upgrade);
    if (name == http::field::connection) {
      ++connection_fields;
      FUZZ_CHECK(f.value() == "close" || f.value() == "keep-alive");
    }
    if (isRequest && name == http::field::expect) FUZZ_CHECK(f.value() != "100-continue");
    if (name == http::field::host) ++host_fields;
  }
  FUZZ_CHECK(connection_fields <= 1);
  if constexpr (isRequest) FUZZ_CHECK(host_fields <= 1);  // one route for every hop (trailers too)

  const auto& recorded = isRequest ? relay.request().body : relay.response().body;
  const auto body_size = isRequest ? relay.request().body_size : relay.response().body_size;
  const std::string& sent = m.body();
  FUZZ_CHECK(body_size == sent.size());
  FUZZ_CHECK(recorded.size() <= sent.size() &&
             std::equal(recorded.begin(), recorded.end(), sent.begin(),
                        [](std::uint8_t r, char s) { return r == static_cast<std::uint8_t>(s); }));
}

}  // namespace

int message_relay(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  const std::uint8_t setup = in.byte();
  const bool request = (setup & 1) == 0;
  const bool head_request = (setup & 2) != 0;
  static constexpr std::size_t kHeaderLimits[] = {64 * 1024, 200};
  static constexpr std::size_t kMaxBody[] = {1 << 20, 3};
  MessageRelay relay(request, kHeaderLimits[(setup >> 2) & 1], kMaxBody[(setup >> 3) & 1]);
  const auto connection = static_cast<MessageRelay::Connection>(((setup >> 4) & 3) % 3);
  relay.reset(head_request && !request);
  relay.connection = connection;

  std::vector<std::uint8_t> pending;  // received, not consumed yet
  std::string forward;
  bool closed = false;
  while (!in.empty() || !pending.empty()) {
    if (!closed && !in.empty()) {
      const std::uint8_t op = in.byte();
      if (op == 0xFF) {
        closed = true;
      } else {
        const auto piece = in.take((op & 0x80) != 0 ? in.u16() : std::size_t{op} + 1);
        pending.insert(pending.end(), piece.begin(), piece.end());
      }
    } else if (!closed) {
      break;
    }
    const std::size_t used = relay.feed(pending, forward);
    FUZZ_CHECK(used <= pending.size());
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
    if (closed && relay.state() != MessageRelay::State::Done && relay.state() != MessageRelay::State::Error)
      relay.eof();
    if (relay.state() == MessageRelay::State::Error) {
      FUZZ_CHECK(!relay.error().empty());
      return 0;  // the proxy closes the connection
    }
    if (relay.state() != MessageRelay::State::Done) {
      if (closed) return 0;
      continue;
    }
    if (request) check_forwarded<true>(forward, false, relay);
    else check_forwarded<false>(forward, head_request, relay);
    if (relay.upgrade() || closed) return 0;  // a tunnel from here, or nothing more comes
    forward.clear();
    relay.reset(head_request && !request);
    relay.connection = connection;
  }
  return 0;
}

}  // namespace reprise::fuzz
