#include "reprise/replay/error.hpp"

#include <string>

namespace reprise::replay {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "reprise.replay"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::bad_rule: return "bad abort rule";
      case errc::bad_plan: return "bad replay plan";
      case errc::bad_target: return "bad target";
      case errc::resolve_failed: return "cannot resolve target";
      case errc::listen_failed: return "cannot listen";
      case errc::output_error: return "cannot write run file";
      case errc::input_error: return "cannot read trace";
      case errc::system_resource: return "out of a system resource";
    }
    return "unknown replay error";
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

}  // namespace reprise::replay
