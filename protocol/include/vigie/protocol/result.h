// The result type of Vigie's trust boundaries: every function that reads
// input Vigie does not control (a batch or request body from the network, a
// rule, an IOC list or rule pack, a URL from configuration) returns either its
// value or why it refused the input, never both and never a half-filled value.
// The shape follows C++23 std::expected (P0323R12), which this project cannot
// use yet: its fuzz build compiles with clang 14 against libstdc++ 12, whose
// <expected> clang 14 rejects. When it can, `Result<T, E>` becomes an alias of
// `std::expected<T, E>` and `fail(e)` of `std::unexpected(e)`.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace vigie::protocol {

// The error half of a Result, made by fail().
template <typename E>
struct Failure {
  E error;
};

// fail(e): a Result holding the error e, e.g. `return fail("bad port");`.
template <typename E>
Failure<std::decay_t<E>> fail(E&& error) {
  return {std::forward<E>(error)};
}
inline Failure<std::string> fail(const char* message) { return {message}; }

// A value of T, or an error of E (default: a message for a person, which says
// what was wrong and where). Accessing the value of a failed result, or the
// error of a successful one, throws std::logic_error: a programming error,
// never a path for bad input.
template <typename T, typename E = std::string>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit, as std::expected
  template <typename F, typename = std::enable_if_t<std::is_constructible_v<E, F>>>
  Result(Failure<F> failure)  // NOLINT: implicit, as std::expected
      : state_(std::in_place_index<1>, E(std::move(failure.error))) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return ok() ? std::get<0>(state_) : throw_value(); }
  const T& value() const& { return ok() ? std::get<0>(state_) : throw_value(); }
  T&& value() && { return std::move(value()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(value()); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
  }

  const E& error() const {
    if (ok()) throw std::logic_error("Result::error() on a result that holds a value");
    return std::get<1>(state_);
  }

 private:
  [[noreturn]] static T& throw_value() {
    throw std::logic_error("Result::value() on a result that holds an error");
  }

  std::variant<T, E> state_;
};

// Success with nothing to return, or an error.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <typename F, typename = std::enable_if_t<std::is_constructible_v<E, F>>>
  Result(Failure<F> failure)  // NOLINT: implicit, as std::expected
      : error_(std::move(failure.error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const {
    if (ok_) throw std::logic_error("Result::error() on a result that holds a value");
    return error_;
  }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace vigie::protocol
