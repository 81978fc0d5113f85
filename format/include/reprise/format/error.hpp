#pragma once
// The format library's one error enum. Every value maps to the CLI exit code 2 (bad input)
// except io_error and output_error, which are environment errors (exit 4).

#include <system_error>

#include "reprise/result.hpp"

namespace reprise::format {

enum class errc {
  ok = 0,
  io_error,             // reading failed (EIO, a directory, a device that can't be read)
  output_error,         // writing failed (disk full, closed pipe, permission)
  not_found,            // the input file does not exist or cannot be opened
  empty_file,           // zero bytes
  bad_magic,            // not a reprise file: the first frame is not a reprise header
  unsupported_version,  // a major format version this build does not know
  wrong_kind,           // a run where a trace was expected, or the reverse
  truncated,            // the file ends inside a frame
  bad_frame,            // a frame header or block header that is not valid zstd / reprise
  checksum_mismatch,    // zstd's content checksum (or decompression) failed: damaged bytes
  limit_exceeded,       // a declared size past the reader's limit (absurd length prefix)
  bad_record,           // a record failed the FlatBuffers verifier or its length is wrong
  bad_footer,           // the footer frame is damaged or disagrees with the file
  out_of_order,         // a trace record older than the one before it
  record_too_large,     // a record past the writer's block limit
  closed,               // the writer was used after close() or after a failure
  cancelled,            // a wait for input on a pipe ended by the caller (ReaderOptions::cancel)
};

const std::error_category& category();
std::error_code make_error_code(errc e);

// Builds an Error in one expression: format::fail(errc::truncated, path, offset, "detail").
Error fail(errc code, std::string where, std::uint64_t offset, std::string detail);
Error fail(errc code, std::string where, std::string detail);

}  // namespace reprise::format

template <>
struct std::is_error_code_enum<reprise::format::errc> : std::true_type {};
