#include "exchange_checker.hpp"

#include "fuzz_check.hpp"
#include "reprise/capture/exchange_record.hpp"
#include "reprise/format/records.hpp"

namespace reprise::fuzz {

void ExchangeChecker::operator()(const capture::HttpExchange& x) {
  using capture::ExchangeFlags;
  ++exchanges_;
  // Connection order: indexes 0, 1, 2, ... on each connection.
  FUZZ_CHECK(x.connection_index == next_index_[x.connection_id]++);
  // Bodies: a prefix of what was seen, never more than the limit.
  FUZZ_CHECK(x.request.body.size() <= x.request.body_size);
  FUZZ_CHECK(x.response.body.size() <= x.response.body_size);
  FUZZ_CHECK(x.request.body.size() <= max_body_);
  FUZZ_CHECK(x.response.body.size() <= max_body_);
  FUZZ_CHECK(x.request_first_ns <= x.request_last_ns);
  if (!x.has_request) {
    // An orphan response: no request bytes, request times at the response's first byte.
    FUZZ_CHECK(x.request.method.empty() && x.request.headers.empty() && x.request.body_size == 0);
    FUZZ_CHECK(x.request_first_ns == x.response_first_ns && x.request_last_ns == x.response_first_ns);
  }
  if (x.has_response()) {
    FUZZ_CHECK(x.response_first_ns <= x.response_last_ns);
    // A response never answers a request that began after it.
    if (x.has_request && x.response_first_ns != 0) FUZZ_CHECK(x.request_first_ns <= x.response_first_ns);
  } else {
    FUZZ_CHECK(x.response_first_ns == 0 && x.response_last_ns == 0);
    FUZZ_CHECK(x.response.status == 0 && x.response.headers.empty() && x.response.body.empty());
    FUZZ_CHECK(x.has_request);  // an exchange has at least one side
  }
  FUZZ_CHECK(!has(x.flags, ExchangeFlags::Redacted));  // the recorder's, never the assembler's
  // Snaplen loss is a kind of gap.
  if (has(x.flags, ExchangeFlags::SnaplenTruncated)) FUZZ_CHECK(has(x.flags, ExchangeFlags::Gap));

  capture::encode_exchange_record(x, record_);
  FUZZ_CHECK(format::verify_record(format::FileKind::Trace, record_));
}

}  // namespace reprise::fuzz
