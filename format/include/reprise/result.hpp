#pragma once
// Result<T>: a value or an Error. Every reprise library returns these instead of throwing;
// exceptions are reserved for bad configuration at start-up and for main().

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace reprise {

// An error with the place it was found: `where` names the file (or stream), `offset` the byte
// offset in it when known (kNoOffset otherwise), `detail` says what was wrong and, where it
// helps, what to do.
struct Error {
  static constexpr std::uint64_t kNoOffset = ~std::uint64_t{0};

  std::error_code code;
  std::string detail;
  std::string where;
  std::uint64_t offset = kNoOffset;

  // "FILE: at byte N: <code message>: <detail>"
  std::string message() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }
  Error&& take_error() { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }
  Error&& take_error() { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

inline std::string Error::message() const {
  std::string out;
  if (!where.empty()) out += where + ": ";
  if (offset != kNoOffset) out += "at byte " + std::to_string(offset) + ": ";
  out += code.message();
  if (!detail.empty()) out += ": " + detail;
  return out;
}

}  // namespace reprise
