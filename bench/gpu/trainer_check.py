#!/usr/bin/env python3
"""Trains with `gradients train` on the GPU and checks its outputs with Hugging Face's libraries:

  1. a LoRA adapter trained on CUDA loads with peft.PeftModel.from_pretrained, and PEFT's eval loss
     on the dataset equals `gradients eval --adapter` (both float32 on the CPU);
  2. `gradients merge` of that adapter loads with transformers and gives the same loss;
  3. a full fine-tune trained on CUDA (float32 master weights, bfloat16 compute) loads with
     transformers and gives the same loss as `gradients eval` on it.
The model is `gradients init-model --preset tiny` with the 512-piece SentencePiece tokenizer; the
dataset is text, so the token ids are BOS + the tokenizer's ids + EOS (text/dataset.h), which
this script rebuilds from `gradients tokenize` to feed transformers the very same ids.
Writes trainer_check.json to --out; exits 1 on a mismatch.

  python3 bench/gpu/trainer_check.py --build build-gpu --out OUT
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER = os.path.join(ROOT, "tests/data/models/tokenizer_sp512/tokenizer.model")
RTOL = 1e-4


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd[:2])} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def hf_loss(model, documents):
    """Token-weighted mean next-token loss over documents evaluated one by one (as gradients eval)."""
    total, count = 0.0, 0
    with torch.no_grad():
        for ids in documents:
            t = torch.tensor([ids])
            out = model(input_ids=t, labels=t)
            total += float(out.loss) * (len(ids) - 1)
            count += len(ids) - 1
    return total / count


def load_model(path):
    try:
        return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    except TypeError:  # transformers 4.x
        return transformers.AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32).eval()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import peft
    gradients = os.path.join(args.build, "cli/gradients")
    rng = random.Random(0)
    words = "the red fox jumps over a lazy dog while models learn tokens from data in small steps".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(20, 60))) for _ in range(48)]
    results, ok = [], True
    with tempfile.TemporaryDirectory() as work:
        model = os.path.join(work, "model")
        run([gradients, "init-model", "--preset", "tiny", "--tokenizer", TOKENIZER, "--out", model, "--seed", "3"])
        data = os.path.join(work, "data.jsonl")
        with open(data, "w") as f:
            f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
        encoded = [json.loads(line) for line in
                   subprocess.run([gradients, "tokenize", "--tokenizer", model], input="\n".join(
                       json.dumps(t) for t in texts) + "\n", capture_output=True, text=True, check=True).stdout.split("\n")
                   if line.strip()]
        documents = [[1] + ids + [2] for ids in encoded]
        hp = os.path.join(work, "hp.json")
        json.dump({"max_steps": 20, "learning_rate": 3e-3, "micro_batch_size": 4, "gradient_accumulation_steps": 2,
                   "validation_fraction": 0, "lora": {"r": 8, "alpha": 16, "dropout": 0.05}}, open(hp, "w"))

        def eval_ours(model_dir, adapter=None):
            cmd = [gradients, "eval", "--model", model_dir, "--data", data, "--format", "text", "--device", "cpu"]
            return json.loads(run(cmd + (["--adapter", adapter] if adapter else [])))["loss"]

        def record(name, ours, theirs):
            nonlocal ok
            rel = abs(ours - theirs) / abs(theirs)
            ok &= rel < RTOL
            results.append({"check": name, "loss_gradients": ours, "loss_huggingface": theirs, "rel_diff": rel,
                            "ok": rel < RTOL})
            print(f"{'ok  ' if rel < RTOL else 'FAIL'} {name}: gradients {ours:.6f}  huggingface {theirs:.6f}")

        base_loss = eval_ours(model)
        adapter = os.path.join(work, "lora")
        summary = json.loads(run([gradients, "train", "--model", model, "--data", data, "--format", "text", "--out",
                                  adapter, "--config", hp, "--device", "cuda"]))
        results.append({"check": "lora trained on cuda", "summary": summary})
        peft_model = peft.PeftModel.from_pretrained(load_model(model), adapter).eval()
        trained = eval_ours(model, adapter)
        record("PEFT loads the adapter gradients train wrote", trained, hf_loss(peft_model, documents))
        if not trained < base_loss - 0.1:
            ok = False
            print(f"FAIL the adapter did not lower the loss: {base_loss:.4f} -> {trained:.4f}")
        merged = os.path.join(work, "merged")
        run([gradients, "merge", "--model", model, "--adapter", adapter, "--out", merged])
        record("transformers loads the merged model", eval_ours(merged), hf_loss(load_model(merged), documents))

        full = os.path.join(work, "full")
        summary = json.loads(run([gradients, "train", "--model", model, "--data", data, "--format", "text", "--out", full,
                                  "--config", hp, "--mode", "full", "--device", "cuda"]))
        results.append({"check": "full fine-tune trained on cuda", "summary": summary})
        record("transformers loads the full fine-tune", eval_ours(full), hf_loss(load_model(full), documents))
    json.dump({"ok": bool(ok), "results": results, "peft": peft.__version__, "transformers": transformers.__version__},
              open(os.path.join(args.out, "trainer_check.json"), "w"), indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
