#include "validator/state/evaluation_outcome.h"

#include <array>
#include <string>
#include <utility>

namespace gradients::validator {
namespace {

constexpr std::array<std::pair<EvaluationOutcome, std::string_view>, 6> kNames = {{
    {EvaluationOutcome::kScored, "scored"},
    {EvaluationOutcome::kInvalid, "invalid"},
    {EvaluationOutcome::kNotFinetuned, "not_finetuned"},
    {EvaluationOutcome::kDuplicate, "duplicate"},
    {EvaluationOutcome::kFailed, "failed"},
    {EvaluationOutcome::kMissing, "missing"},
}};

}  // namespace

std::string_view EvaluationOutcomeName(EvaluationOutcome outcome) {
  for (const auto& [value, name] : kNames) {
    if (value == outcome) return name;
  }
  return "unknown";
}

common::Result<EvaluationOutcome> ParseEvaluationOutcome(std::string_view name) {
  for (const auto& [value, known] : kNames) {
    if (known == name) return value;
  }
  std::string accepted;
  for (size_t i = 0; i < kNames.size(); ++i) {
    accepted += i == 0 ? "" : i + 1 == kNames.size() ? " or " : ", ";
    accepted += kNames[i].second;
  }
  return common::Status::InvalidArgument("unknown evaluation outcome \"" + std::string(name.substr(0, 40)) +
                                         "\" (expected " + accepted + ")");
}

}  // namespace gradients::validator
