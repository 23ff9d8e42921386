#include "validator/state/evaluation_outcome.h"

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

TEST(EvaluationOutcome, EveryOutcomeParsesBackFromItsName) {
  for (EvaluationOutcome outcome : {EvaluationOutcome::kScored, EvaluationOutcome::kInvalid,
                                    EvaluationOutcome::kNotFinetuned, EvaluationOutcome::kDuplicate,
                                    EvaluationOutcome::kFailed, EvaluationOutcome::kMissing}) {
    common::Result<EvaluationOutcome> parsed = ParseEvaluationOutcome(EvaluationOutcomeName(outcome));
    ASSERT_TRUE(parsed.ok()) << EvaluationOutcomeName(outcome);
    EXPECT_EQ(*parsed, outcome);
  }
  EXPECT_EQ(EvaluationOutcomeName(EvaluationOutcome::kNotFinetuned), "not_finetuned");
}

TEST(EvaluationOutcome, AnUnknownNameIsRefusedWithTheNamesAccepted) {
  common::Result<EvaluationOutcome> parsed = ParseEvaluationOutcome("Scored");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "unknown evaluation outcome \"Scored\" (expected scored, invalid, not_finetuned, duplicate, failed or "
            "missing)");
}

}  // namespace
}  // namespace gradients::validator
