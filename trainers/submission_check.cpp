#include "trainers/submission_check.h"

#include <torch/torch.h>

#include "trainers/lora_adapter.h"
#include "trainers/model_config.h"

namespace gradients::train {
namespace {

CheckedSubmission Refused(SubmissionVerdict verdict, std::string reason) {
  return CheckedSubmission{.verdict = verdict, .reason = std::move(reason), .model = std::nullopt};
}

bool AllFinite(const at::Tensor& tensor) { return at::isfinite(tensor).all().item<bool>(); }

common::Result<CheckedSubmission> LoadAdapterSubmission(const std::filesystem::path& base_model,
                                                const std::filesystem::path& submission,
                                                const ModelLoadOptions& options) {
  // The base first: whatever fails after it was loaded is the submission's doing (an adapter sized
  // to exhaust memory must not pass for a broken base model).
  common::Result<CausalLm> model = LoadCausalLm(base_model, options);
  if (!model.ok()) return model.status().WithContext("base model");
  common::Result<LoraAdapter> adapter = LoadLoraAdapter(submission);
  if (!adapter.ok()) return Refused(SubmissionVerdict::kInvalid, adapter.status().message());
  const double scale = adapter->config.Scale();
  bool changes_something = false;
  for (const auto& [module, weights] : adapter->modules) {
    if (!AllFinite(weights.a) || !AllFinite(weights.b)) {
      return Refused(SubmissionVerdict::kInvalid, "adapter module \"" + module + "\" holds NaN or infinite weights");
    }
    if (!changes_something && scale != 0 && weights.a.dim() == 2 && weights.b.dim() == 2 &&
        weights.b.size(1) == weights.a.size(0)) {
      changes_something = (at::matmul(weights.b, weights.a) * scale).count_nonzero().item<int64_t>() > 0;
    }
  }
  if (!changes_something) {
    return Refused(SubmissionVerdict::kNotFinetuned, "scale * lora_B * lora_A is zero everywhere: the adapter changes "
                                                     "nothing");
  }
  if (common::Status merged = MergeLoraAdapter(*model, *adapter); !merged.ok()) {
    return Refused(SubmissionVerdict::kInvalid, merged.message());
  }
  return CheckedSubmission{.verdict = SubmissionVerdict::kValid, .reason = {}, .model = std::move(*model)};
}

common::Result<CheckedSubmission> LoadFullSubmission(const std::filesystem::path& base_model,
                                             const std::filesystem::path& submission,
                                             const ModelLoadOptions& options) {
  common::Result<ModelConfig> base_config = LoadModelConfig(base_model);
  if (!base_config.ok()) return base_config.status().WithContext("base model");
  common::Result<ModelConfig> config = LoadModelConfig(submission);
  if (!config.ok()) return Refused(SubmissionVerdict::kInvalid, config.status().message());
  // The architecture must be the base's; the precision the weights are stored in may differ.
  nlohmann::json ours = config->ToJson(), theirs = base_config->ToJson();
  ours.erase("torch_dtype");
  theirs.erase("torch_dtype");
  for (const auto& [key, value] : theirs.items()) {
    if (!ours.contains(key) || ours[key] != value) {
      return Refused(SubmissionVerdict::kInvalid,
                     "config.json: \"" + key + "\" is " + (ours.contains(key) ? ours[key].dump() : "missing") +
                         " where the base model's is " + value.dump());
    }
  }
  if (ours.size() != theirs.size()) {
    return Refused(SubmissionVerdict::kInvalid, "config.json has settings the base model's has not");
  }
  common::Result<CausalLm> base = LoadCausalLm(base_model, options);
  if (!base.ok()) return base.status().WithContext("base model");
  common::Result<CausalLm> model = LoadCausalLm(submission, options);
  if (!model.ok()) return Refused(SubmissionVerdict::kInvalid, model.status().message());
  const std::map<std::string, at::Tensor> base_weights = NamedWeights(*base);
  bool changed = false;
  for (const auto& [name, weight] : NamedWeights(*model)) {
    if (!AllFinite(weight)) return Refused(SubmissionVerdict::kInvalid, "weight \"" + name + "\" holds NaN or infinity");
    auto original = base_weights.find(name);
    changed = changed || original == base_weights.end() || !at::equal(weight, original->second);
  }
  if (!changed) return Refused(SubmissionVerdict::kNotFinetuned, "every weight equals the base model's");
  return CheckedSubmission{.verdict = SubmissionVerdict::kValid, .reason = {}, .model = std::move(*model)};
}

}  // namespace

std::string_view SubmissionVerdictName(SubmissionVerdict verdict) {
  switch (verdict) {
    case SubmissionVerdict::kValid: return "valid";
    case SubmissionVerdict::kInvalid: return "invalid";
    case SubmissionVerdict::kNotFinetuned: return "not_finetuned";
  }
  return "invalid";
}

common::Result<CheckedSubmission> LoadSubmission(const std::filesystem::path& base_model,
                                         const std::filesystem::path& submission, SubmissionKind kind,
                                         ModelLoadOptions options) {
  options.adapter.clear();
  return kind == SubmissionKind::kLoraAdapter ? LoadAdapterSubmission(base_model, submission, options)
                                              : LoadFullSubmission(base_model, submission, options);
}

}  // namespace gradients::train
