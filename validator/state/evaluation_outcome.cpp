#include "validator/state/evaluation_outcome.h"

#include <optional>
#include <string>

namespace gradients::validator {

std::string_view EvaluationOutcomeName(EvaluationOutcome outcome) { return common::EnumName(outcome); }

common::Result<EvaluationOutcome> ParseEvaluationOutcome(std::string_view name) {
  if (std::optional<EvaluationOutcome> outcome = common::EnumFromName<EvaluationOutcome>(name)) return *outcome;
  constexpr auto kNames = EnumNames(EvaluationOutcome{});
  std::string accepted;
  for (size_t i = 0; i < kNames.size(); ++i) {
    accepted += i == 0 ? "" : i + 1 == kNames.size() ? " or " : ", ";
    accepted += kNames[i].name;
  }
  return common::Status::InvalidArgument("unknown evaluation outcome \"" + std::string(name.substr(0, 40)) +
                                         "\" (expected " + accepted + ")");
}

}  // namespace gradients::validator
