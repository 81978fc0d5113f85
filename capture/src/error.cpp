#include "reprise/capture/error.hpp"

#include <string>

namespace reprise::capture {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "reprise.capture"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::unsupported_link_type: return "unsupported link type";
      case errc::bad_option: return "bad option";
      case errc::source_error: return "packet source error";
      case errc::output_error: return "trace output error";
      case errc::listen_failed: return "cannot listen";
      case errc::interface_failed: return "cannot open the interface";
    }
    return "unknown capture error";
  }
};

}  // namespace

const std::error_category& category() {
  static const Category instance;
  return instance;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

Error fail(errc code, std::string where, std::string detail) {
  return Error{make_error_code(code), std::move(detail), std::move(where), Error::kNoOffset};
}

}  // namespace reprise::capture
