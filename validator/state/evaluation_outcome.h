// What became of a claim once its task was evaluated: the verdict an EvaluationRecord holds. The
// names are the spellings of the evaluations table's outcome column, the metrics' outcome label and
// `gradients eval`'s status.
#pragma once

#include <array>
#include <string_view>

#include "common/enum_names.h"
#include "common/status.h"

namespace gradients::validator {

enum class EvaluationOutcome {
  kScored,        // evaluated: test_loss is set
  kInvalid,       // could not be loaded, or does not derive from the base model
  kNotFinetuned,  // equals the base model
  kDuplicate,     // the same checkpoint as an earlier upload by another miner
  kFailed,        // evaluation crashed or ran out of time or memory
  kMissing,       // claimed, but nothing valid arrived before the deadline
};

// The names, in the order an error lists them (common/enum_names.h).
constexpr auto EnumNames(EvaluationOutcome) {
  return std::to_array<common::EnumNameEntry<EvaluationOutcome>>({
      {EvaluationOutcome::kScored, "scored"},
      {EvaluationOutcome::kInvalid, "invalid"},
      {EvaluationOutcome::kNotFinetuned, "not_finetuned"},
      {EvaluationOutcome::kDuplicate, "duplicate"},
      {EvaluationOutcome::kFailed, "failed"},
      {EvaluationOutcome::kMissing, "missing"},
  });
}

std::string_view EvaluationOutcomeName(EvaluationOutcome outcome);  // "scored", "not_finetuned", ...
// InvalidArgument naming the value and the accepted names for anything else.
common::Result<EvaluationOutcome> ParseEvaluationOutcome(std::string_view name);

}  // namespace gradients::validator
