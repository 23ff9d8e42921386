#!/usr/bin/env python3
"""Regenerates the training fixtures of tests/trainers from the independent PyTorch reference.

For a few model fixtures of tests/data/models it writes, under tests/data/training/<model>/:
  batch.json                  token ids [2, 17] and labels with masked (-100) positions
  adapter/                    a LoRA adapter in PEFT's layout (r 4, alpha 8, all seven projections),
                              A and B random (B non-zero, so that A has gradients too)
  expected_lora.safetensors   the reference's loss and the gradients of every lora_A / lora_B
                              ("<module>.lora_A"), one training step's forward and backward
  expected_full.safetensors   the loss and the gradient of every parameter (full fine-tuning)
The reference is ../shared/bench/torch_reference.py (its LoRALinear is PEFT's layer); tests never
read it, only these files.

  scripts/install-deps.sh --reference   # Debian's python3-torch
  /usr/bin/python3 tests/data/training/make_training_fixtures.py [--reference PATH]
"""
import argparse
import importlib.util
import json
import os
import shutil

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "models")
FIXTURES = ["llama_gqa_tied_theta", "qwen2", "llama_head_dim_bias"]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
RANK, ALPHA = 4, 8


def write_adapter(ref, directory, model):
    os.makedirs(directory)
    tensors = {}
    for name, module in model.named_modules():
        if isinstance(module, ref.LoRALinear):
            tensors[f"base_model.model.{name}.lora_A.weight"] = module.lora_A.detach().clone()
            tensors[f"base_model.model.{name}.lora_B.weight"] = module.lora_B.detach().clone()
    ref.write_safetensors(os.path.join(directory, "adapter_model.safetensors"), tensors)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": RANK, "lora_alpha": ALPHA, "lora_dropout": 0.0,
              "target_modules": TARGETS, "use_rslora": False, "bias": "none", "fan_in_fan_out": False,
              "base_model_name_or_path": "fixture"}
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)


def make(ref, name, seed):
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    model_dir = os.path.join(MODELS, name)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg["vocab_size"], (2, 17), generator=g)
    labels = ids.clone()
    labels[0, :5] = -100   # a masked prompt
    labels[1, 9:12] = -100
    with open(os.path.join(out, "batch.json"), "w") as f:
        json.dump({"ids": ids.tolist(), "labels": labels.tolist()}, f)

    # Full fine-tuning: every parameter's gradient.
    model = ref.load_model(model_dir).train()
    loss = model.loss(ids, labels)
    loss.backward()
    expected = {"loss": loss.detach().reshape(1)}
    for pname, p in model.named_parameters():
        expected[pname] = p.grad.detach().clone()
    ref.write_safetensors(os.path.join(out, "expected_full.safetensors"), expected)

    # LoRA: random A and B (a fresh adapter has B = 0 and so no gradient for A).
    torch.manual_seed(seed + 1)
    model = ref.load_model(model_dir).train()
    model.add_lora(RANK, ALPHA)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ref.LoRALinear):
                module.lora_B.normal_(0.0, 0.05, generator=g)
    write_adapter(ref, os.path.join(out, "adapter"), model)
    loss = model.loss(ids, labels)
    loss.backward()
    expected = {"loss": loss.detach().reshape(1)}
    for mname, module in model.named_modules():
        if isinstance(module, ref.LoRALinear):
            expected[f"{mname}.lora_A"] = module.lora_A.grad.detach().clone()
            expected[f"{mname}.lora_B"] = module.lora_B.grad.detach().clone()
    ref.write_safetensors(os.path.join(out, "expected_lora.safetensors"), expected)
    print(f"{name}: full loss {float(expected['loss']):.6f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference", default=os.path.join(HERE, "../../../../shared/bench/torch_reference.py"))
    args = parser.parse_args()
    for i, name in enumerate(FIXTURES):
        spec = importlib.util.spec_from_file_location("torch_reference", args.reference)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        make(ref, name, 100 + i)


if __name__ == "__main__":
    main()
