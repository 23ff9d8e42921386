// Status and Result<T>: the one way fallible operations report failure.
//
// A Status is either OK or a code plus a human-readable message that names what is wrong
// ("model.safetensors: header length 2147483648 exceeds the limit of 104857600 bytes").
// Both types are [[nodiscard]]: a dropped error is a compile warning, and the build uses -Werror.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gradients::common {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the input is malformed: bad config, bad file, bad message
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // refusing to overwrite
  kPermissionDenied,    // the caller may not do this (or a file's mode is unsafe)
  kUnauthenticated,     // a signature or credential did not verify
  kFailedPrecondition,  // the system is not in the state the operation needs
  kOutOfRange,          // an offset or size past the end of something
  kResourceExhausted,   // a size or count limit was hit
  kDeadlineExceeded,
  kAborted,             // a newer operation took this one's place (a replaced stream)
  kDataLoss,            // stored data is corrupt or truncated
  kIoError,             // the operating system refused an I/O operation
  kUnavailable,         // a transient failure; retrying may help
  kInternal,            // a bug: an invariant did not hold
  kDiverged,            // a computation's numbers left the finite range (a training run diverged)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Diverged(std::string m) { return {StatusCode::kDiverged, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: <message>", or "OK".
  std::string ToString() const;

  // The same status with "<context>: " in front of the message; OK stays OK.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value of T, or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(state_).ok() && "a Result holds a value or an error, never an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }

  // OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace gradients::common

#define GRADIENTS_CONCAT_INNER(a, b) a##b
#define GRADIENTS_CONCAT(a, b) GRADIENTS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define GRADIENTS_RETURN_IF_ERROR(expr)                    \
  do {                                                     \
    ::gradients::common::Status gradients_status_ = (expr);        \
    if (!gradients_status_.ok()) return gradients_status_; \
  } while (0)

// `GRADIENTS_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result's value, or returns its Status.
#define GRADIENTS_ASSIGN_OR_RETURN(lhs, expr) \
  GRADIENTS_ASSIGN_OR_RETURN_IMPL(GRADIENTS_CONCAT(gradients_result_, __LINE__), lhs, expr)
#define GRADIENTS_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                                    \
  if (!result.ok()) return result.status();                \
  lhs = std::move(result).value()
