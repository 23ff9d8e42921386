// Whether a submitted checkpoint counts (DESIGN.md, Evaluation): it must derive from its task's base
// model (a LoRA adapter whose targets and shapes fit it, or a full model of the same architecture),
// hold only finite weights, and differ from the base. What fails these is the miner's fault and gets
// a verdict with the reason; only a base model that cannot be loaded is an error (the validator's).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "trainers/causal_lm.h"
#include "trainers/model_loader.h"

namespace gradients::train {

enum class SubmissionKind { kLoraAdapter, kFullModel };
enum class SubmissionVerdict { kValid, kInvalid, kNotFinetuned };

std::string_view SubmissionVerdictName(SubmissionVerdict verdict);  // "valid", "invalid", "not_finetuned"

struct CheckedSubmission {
  SubmissionVerdict verdict = SubmissionVerdict::kValid;
  std::string reason{};             // why it is not valid
  std::optional<CausalLm> model{};  // the model it stands for, when valid
};

// Loads the model a submission stands for: the base with the adapter merged in, or the full model,
// as `options` asks (its adapter field is ignored).
common::Result<CheckedSubmission> LoadSubmission(const std::filesystem::path& base_model,
                                         const std::filesystem::path& submission, SubmissionKind kind,
                                         ModelLoadOptions options = {});

}  // namespace gradients::train
