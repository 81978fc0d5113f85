#pragma once
// The trace record of one exchange: the size-prefixed FlatBuffer of the schema's `Exchange` table
// (format/schemas/reprise.fbs), written straight from an HttpExchange.
//
// Why not FlatBufferBuilder: the builder writes back to front, searches the vtables written so far
// at every table's end, and needs every child offset before its parent starts; with two tables
// and two strings per header field that cost about 280 ns per record, the largest single item of
// the recording thread of `reprise capture` (and part of the proxy's recording cost). This writer
// sizes the record, allocates it once and writes every byte once, front to back: each table
// comes before its children, so every offset points forward as the format requires, and one
// vtable serves every header field of the record.
//
// The result is an ordinary FlatBuffer: the generated verifier accepts it (format::verify_record)
// and readers need nothing special. Absent fields are the builder's: a request without body or
// trailers stores neither, an exchange without request (NoRequest) or response (NoResponse)
// stores no table for it. Every scalar is stored, defaults included, so that
// patch_exchange_record() can set the fields known only when the record is written.

#include <cstdint>
#include <span>
#include <vector>

#include "reprise/capture/http_exchange.hpp"

namespace reprise::capture {

// Writes the record of `x` into `out` (its contents replaced), with id and session_id 0. Its
// size is a multiple of 8. Precondition: the record fits the format's 2 GiB (bodies are bounded
// by --max-body, header sections by the header limit).
void encode_exchange_record(const HttpExchange& x, std::vector<std::uint8_t>& out);

// Sets the fields known at write time in a record encode_exchange_record() made (only such a
// record: they are written at the positions that function gives them).
void patch_exchange_record(std::span<std::uint8_t> record, std::uint64_t id,
                           std::uint64_t session_id, std::int64_t request_first_ns, bool late);

}  // namespace reprise::capture
