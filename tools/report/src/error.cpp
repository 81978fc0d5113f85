#include "reprise/report/error.hpp"

#include <string>

namespace reprise::report {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "reprise.report"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::input_error: return "cannot read run";
      case errc::mismatched_runs: return "runs do not match";
      case errc::bad_route: return "bad route rule";
      case errc::bad_rule: return "bad gate rule";
      case errc::bad_field: return "bad field path";
      case errc::empty_run: return "no outcomes";
      case errc::output_error: return "cannot write report";
    }
    return "unknown report error";
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

}  // namespace reprise::report
