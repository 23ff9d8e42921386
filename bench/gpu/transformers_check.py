#!/usr/bin/env python3
"""Compares the trainer's model (bench/gpu/model_check, built against this machine's libtorch 2.x,
so attention runs through SDPA) with transformers on every model fixture of tests/data/models,
in float32 and bfloat16, on CUDA when present. Also a Mistral variant whose sliding window is
shorter than the sequence, and LoRA adapters written by PEFT (plain and rsLoRA) evaluated by
PEFT and by the trainer (merged). Writes transformers_check.json to --out; exits 1 on a mismatch.

  python3 bench/gpu/transformers_check.py --build build-gpu --out OUT
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import torch
import transformers
from safetensors.torch import load_file

FP32_RTOL = 1e-4   # the bar for logits and loss
BF16_LOSS_RTOL = 2e-2  # bf16 keeps 8 bits of mantissa: compare the loss, and logits loosely


def transformers_logits(model_dir, ids, dtype, device):
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    except TypeError:  # transformers 4.x names it torch_dtype
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype,
                                                                  attn_implementation="sdpa")
    model = model.to(device).eval()
    with torch.no_grad():
        out = model(input_ids=ids.to(device), labels=ids.to(device))
    return out.logits.float().cpu(), float(out.loss)


def peft_logits(model_dir, adapter_dir, ids, device, use_rslora):
    """Writes a randomly initialised PEFT LoRA adapter (B not zero) and returns PEFT's logits and loss."""
    import peft
    torch.manual_seed(3)
    base = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False, use_rslora=use_rslora,
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"], task_type="CAUSAL_LM")
    model = peft.get_peft_model(base, config).to(device).eval()
    model.save_pretrained(adapter_dir)
    with torch.no_grad():
        out = model(input_ids=ids.to(device), labels=ids.to(device))
    return out.logits.float().cpu(), float(out.loss), peft.__version__


def check(build, model_dir, ids, dtype_name, device, out_dir, tag, adapter=None, reference=None):
    out_file = os.path.join(out_dir, f"{tag}_{dtype_name}.safetensors")
    run = subprocess.run([os.path.join(build, "bench/model_check"), model_dir, json.dumps(ids.tolist()), device,
                          dtype_name, out_file] + ([adapter] if adapter else []), capture_output=True, text=True)
    if run.returncode != 0:
        return {"fixture": tag, "dtype": dtype_name, "ok": False, "error": run.stderr.strip()}
    ours = load_file(out_file)["logits"]
    ours_loss = json.loads(run.stdout)["loss"]
    os.remove(out_file)
    dtype = torch.float32 if dtype_name == "float32" else torch.bfloat16
    theirs, theirs_loss = reference if reference else transformers_logits(model_dir, ids, dtype, device)
    max_abs = float((ours - theirs).abs().max())
    scale = float(theirs.abs().max())
    loss_rel = abs(ours_loss - theirs_loss) / abs(theirs_loss)
    if dtype_name == "float32":
        ok = torch.allclose(ours, theirs, rtol=FP32_RTOL, atol=FP32_RTOL * scale) and loss_rel < FP32_RTOL
    else:
        ok = loss_rel < BF16_LOSS_RTOL and max_abs < 0.1 * scale
    return {"fixture": tag, "dtype": dtype_name, "ok": bool(ok), "loss_ours": ours_loss, "loss_transformers": theirs_loss,
            "loss_rel_diff": loss_rel, "logits_max_abs_diff": max_abs, "logits_max_abs": scale}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", default=os.path.join(os.path.dirname(__file__), "../../tests/data/models"))
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = []
    fixtures = sorted(os.path.dirname(f) for f in glob.glob(os.path.join(args.models, "*", "expected.json")))
    # A Mistral whose window (8) is shorter than the 17-token rows, so the window matters.
    windowed = os.path.join(args.out, "mistral_window8")
    shutil.copytree(os.path.join(args.models, "mistral"), windowed, dirs_exist_ok=True)
    cfg = json.load(open(os.path.join(windowed, "config.json")))
    cfg["sliding_window"] = 8
    json.dump(cfg, open(os.path.join(windowed, "config.json"), "w"))
    fixtures.append(windowed)
    for model_dir in fixtures:
        ids = torch.tensor(json.load(open(os.path.join(model_dir, "expected.json")))["ids"])
        for dtype_name in ("float32", "bfloat16"):
            results.append(check(args.build, model_dir, ids, dtype_name, device, args.out,
                                 os.path.basename(model_dir)))
            print(json.dumps(results[-1]))
    shutil.rmtree(windowed)
    base = os.path.join(args.models, "llama_head_dim_bias")
    ids = torch.tensor(json.load(open(os.path.join(base, "expected.json")))["ids"])
    for use_rslora in (False, True):
        adapter = os.path.join(args.out, "peft_adapter")
        logits, loss, peft_version = peft_logits(base, adapter, ids, device, use_rslora)
        tag = "peft_lora" + ("_rslora" if use_rslora else "")
        results.append(check(args.build, base, ids, "float32", device, args.out, tag, adapter, (logits, loss)))
        results[-1]["peft"] = peft_version
        print(json.dumps(results[-1]))
        shutil.rmtree(adapter)
    report = {"torch": torch.__version__, "transformers": transformers.__version__, "device": device,
              "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None, "results": results}
    json.dump(report, open(os.path.join(args.out, "transformers_check.json"), "w"), indent=1)
    failed = [r for r in results if not r["ok"]]
    print(f"transformers check: {len(results) - len(failed)}/{len(results)} agree")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
