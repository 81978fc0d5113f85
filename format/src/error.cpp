#include "reprise/format/error.hpp"

#include <string>

namespace reprise::format {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "reprise.format"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::io_error: return "read error";
      case errc::output_error: return "write error";
      case errc::not_found: return "cannot open file";
      case errc::empty_file: return "empty file";
      case errc::bad_magic: return "not a reprise file";
      case errc::unsupported_version: return "unsupported format version";
      case errc::wrong_kind: return "wrong file kind";
      case errc::truncated: return "file is truncated";
      case errc::bad_frame: return "damaged frame";
      case errc::checksum_mismatch: return "damaged block (checksum mismatch)";
      case errc::limit_exceeded: return "size limit exceeded";
      case errc::bad_record: return "damaged record";
      case errc::bad_footer: return "damaged footer";
      case errc::out_of_order: return "record out of order";
      case errc::record_too_large: return "record too large";
      case errc::closed: return "writer is closed";
      case errc::cancelled: return "reading was cancelled";
    }
    return "unknown format error";
  }
};

}  // namespace

const std::error_category& category() {
  static const Category instance;
  return instance;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

Error fail(errc code, std::string where, std::uint64_t offset, std::string detail) {
  return Error{make_error_code(code), std::move(detail), std::move(where), offset};
}

Error fail(errc code, std::string where, std::string detail) {
  return fail(code, std::move(where), Error::kNoOffset, std::move(detail));
}

}  // namespace reprise::format
