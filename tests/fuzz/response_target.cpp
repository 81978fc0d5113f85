// Fuzz target: a replayed request's answer, read as the replay engine reads it: in pieces as
// the socket gives them, several answers one after the other on a kept-alive connection, and
// the close of the connection.
//
// Input: a setup byte (HEAD, body bytes kept, headers kept), then operations; an operation byte
// 0xFF is the end of the stream (eof), else a piece of (byte & 0x7F) + 1 bytes, or with bit 7 a
// 16-bit length.

#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "targets.hpp"
#include "reprise/replay/response_reader.hpp"

namespace reprise::fuzz {

int response(const std::uint8_t* data, std::size_t size) {
  using replay::ResponseReader;
  FuzzInput in(data, size);
  const std::uint8_t setup = in.byte();
  static constexpr std::size_t kKeepBody[] = {0, 1, 100, 1 << 20};
  static constexpr ResponseReader::Headers kKeepHeaders[] = {
      ResponseReader::Headers::None, ResponseReader::Headers::SetCookie, ResponseReader::Headers::All,
      ResponseReader::Headers::None};
  const bool head = (setup & 1) != 0;
  const std::size_t keep_body = kKeepBody[(setup >> 1) & 3];
  const auto keep_headers = kKeepHeaders[(setup >> 3) & 3];
  ResponseReader reader(head, keep_body, keep_headers);
  std::uint64_t used_total = 0;

  const auto check_ended = [&] {
    FUZZ_CHECK(reader.bytes_received() == used_total);
    if (reader.state() == ResponseReader::State::Done) {
      const unsigned status = reader.status();
      FUZZ_CHECK(status <= 999 && (status < 100 || status >= 200 || status == 101));  // no interim
      FUZZ_CHECK(reader.kept_body().size() <= keep_body);
      if (keep_body == 0 && keep_headers == ResponseReader::Headers::None) FUZZ_CHECK(reader.kept_headers().empty());
    } else {
      FUZZ_CHECK(!reader.error().empty());
    }
    // The next answer on the same connection.
    reader.reset(head, keep_body, keep_headers);
    used_total = 0;
  };

  while (!in.empty()) {
    const std::uint8_t op = in.byte();
    if (op == 0xFF) {
      reader.eof();
      FUZZ_CHECK(reader.state() != ResponseReader::State::NeedMore);
      check_ended();
      continue;
    }
    const auto piece = in.take((op & 0x80) != 0 ? in.u16() : std::size_t{op} + 1);
    const std::size_t used = reader.feed(piece);
    FUZZ_CHECK(used <= piece.size());
    used_total += used;
    if (reader.state() == ResponseReader::State::NeedMore) {
      FUZZ_CHECK(used == piece.size());  // a partial header is held, and counts as used
    } else {
      check_ended();
    }
  }
  return 0;
}

}  // namespace reprise::fuzz
