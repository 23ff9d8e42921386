// Trainable LoRA adapters on a model's projections: attached fresh with PEFT's initialisation or
// from an existing adapter, and taken off again as a LoraAdapter in PEFT's layout.
#pragma once

#include <map>
#include <string>

#include "trainers/causal_lm.h"
#include "trainers/hyperparameters.h"
#include "trainers/lora_adapter.h"

namespace gradients::train {

// Attaches an adapter to every projection whose name (the last part of its path, "q_proj") is in
// `options.target_modules`, initialised as PEFT does: A kaiming-uniform with a = sqrt(5) (uniform
// in +-1/sqrt(in)), B zero, so training starts from the base model exactly. A and B are float32 on
// the model's device and require gradients; the base model's parameters stop requiring them.
// `init_generator` (a CPU generator) draws A; `dropout_generator` (one of the model's device)
// draws the dropout masks. A target that names no projection of the model is an error naming it
// (a typo would otherwise train nothing).
common::Status AttachLora(CausalLm& model, const LoraHyperparameters& options, const at::Generator& init_generator,
                  const at::Generator& dropout_generator);

// Attaches `adapter`'s weights instead of fresh ones (to continue training it). The modules must be
// the model's projections with matching shapes.
common::Status AttachLoraWeights(CausalLm& model, const LoraAdapter& adapter, double dropout,
                         const at::Generator& dropout_generator);

// The projections carrying an adapter, by module path ("model.layers.0.self_attn.q_proj").
std::map<std::string, ProjectionImpl*> LoraProjections(CausalLm& model);

// Float32 CPU copies of the attached adapters with `config`, ready for SaveLoraAdapter.
LoraAdapter ExtractLoraAdapter(CausalLm& model, const LoraAdapterConfig& config);

// The adapter configuration PEFT would write for `options` on a base model named `base_model`.
LoraAdapterConfig MakeLoraAdapterConfig(const LoraHyperparameters& options, const std::string& base_model);

}  // namespace gradients::train
