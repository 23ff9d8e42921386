#!/usr/bin/env python3
"""Regenerates the model fixtures of tests/trainers from the independent PyTorch reference.

Each fixture is a Hugging Face-layout directory (config.json, model.safetensors or shards with
model.safetensors.index.json) plus expected.json (token ids, loss, tokens) and expected.safetensors
(the reference's logits, float32). The reference, ../shared/bench/torch_reference.py, equals
transformers to within 5e-7; tests never read it, only these files.

The reference has no rope scaling; for the rope_scaling fixtures this script replaces its `rope`
with transformers' linear and llama3 formulas (see scaled_inverse_frequencies). The GPU check
(bench/gpu) compares against transformers itself.

  scripts/install-deps.sh --reference   # Debian's python3-torch
  /usr/bin/python3 tests/data/models/make_fixtures.py [--reference PATH]
"""
import argparse
import importlib.util
import json
import math
import os
import shutil

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

BASE = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "vocab_size": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "max_position_embeddings": 256, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}

FIXTURES = {
    "llama_mha": dict(model_type="llama"),
    "llama_gqa_tied_theta": dict(model_type="llama", num_key_value_heads=2, tie_word_embeddings=True,
                                 rope_theta=500000.0),
    "llama_head_dim_bias": dict(model_type="llama", head_dim=24, attention_bias=True, num_key_value_heads=2),
    "llama_bf16_weights": dict(model_type="llama", torch_dtype="bfloat16"),
    "llama_rope_linear": dict(model_type="llama", rope_scaling={"rope_type": "linear", "factor": 4.0}),
    "llama_rope_llama3": dict(model_type="llama", rope_theta=500000.0, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16}),
    "mistral": dict(model_type="mistral", num_key_value_heads=2, sliding_window=4096),
    "qwen2": dict(model_type="qwen2", num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1000000.0),
    "llama_sharded": dict(model_type="llama", num_hidden_layers=3),
}


def scaled_inverse_frequencies(cfg, dim):
    """transformers' default / linear / llama3 inverse frequencies (float32)."""
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    s = cfg.get("rope_scaling")
    if not s:
        return inv
    if s["rope_type"] == "linear":
        return inv / s["factor"]
    factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def patch_rope(ref, cfg):
    def rope(x, pos, theta):
        d = x.shape[-1]
        f = torch.outer(pos.float(), scaled_inverse_frequencies(cfg, d))
        emb = torch.cat([f, f], dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin
    ref.rope = rope


def randomize(model, seed):
    """Weights that exercise every parameter: non-trivial norms and biases, small projections."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))


def write_sharded(ref, directory, state):
    names = sorted(state)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        file = f"model-{i + 1:05d}-of-00002.safetensors"
        ref.write_safetensors(os.path.join(directory, file), {n: state[n] for n in part})
        weight_map.update({n: file for n in part})
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())},
                   "weight_map": weight_map}, f, indent=1, sort_keys=True)


def make(ref, name, overrides, seed):
    cfg = dict(BASE, **overrides)
    directory = os.path.join(HERE, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True)
    torch.manual_seed(seed)
    model = ref.CausalLM(ref.Cfg(cfg))
    randomize(model, seed)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if cfg["tie_word_embeddings"]:
        state.pop("lm_head.weight")
    if cfg.get("torch_dtype") == "bfloat16":
        state = {k: v.to(torch.bfloat16) for k, v in state.items()}
    if name == "llama_sharded":
        write_sharded(ref, directory, state)
    else:
        ref.write_safetensors(os.path.join(directory, "model.safetensors"), state)

    # The reference reads the files back (bf16 weights become float32 exactly as a loader would).
    if name == "llama_sharded":
        merged = {}
        for file in sorted(set(json.load(open(os.path.join(directory, "model.safetensors.index.json")))["weight_map"].values())):
            merged.update(ref.read_safetensors(os.path.join(directory, file)))
        loaded = ref.CausalLM(ref.Cfg(cfg))
        loaded.load_state_dict({k: v.float() for k, v in merged.items()})
        loaded.eval()
    else:
        loaded = ref.load_model(directory)
    patch_rope(ref, cfg)
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, cfg["vocab_size"], (2, 17), generator=g)
    with torch.no_grad():
        logits = loaded(ids).float()
        loss = loaded.loss(ids)
    ref.write_safetensors(os.path.join(directory, "expected.safetensors"), {"logits": logits.contiguous()})
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump({"ids": ids.tolist(), "loss": float(loss), "tokens": int(ids[:, 1:].numel())}, f, indent=1)
    print(f"{name}: loss {float(loss):.6f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference", default=os.path.join(HERE, "../../../../shared/bench/torch_reference.py"))
    args = parser.parse_args()
    for i, (name, overrides) in enumerate(FIXTURES.items()):
        spec = importlib.util.spec_from_file_location("torch_reference", args.reference)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)  # fresh module per fixture: patch_rope must not leak
        make(ref, name, overrides, seed=100 + i)


if __name__ == "__main__":
    main()
