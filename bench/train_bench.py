#!/usr/bin/env python3
"""`gradients train` against ../shared/bench/torch_reference.py train-bench, side by side, on CPU.

The issue's shapes: hidden 256, 4 layers, 4 heads, ffn 688, vocab 4096, batch 8, sequence 256;
LoRA r16 alpha 32 on all seven projections (dropout 0), and full fine-tuning; AdamW, lr 1e-4.
`gradients train` runs end to end on a model from `gradients init-model --preset small` (that very
shape) with a 4096-piece SentencePiece tokenizer trained here (spm_train) and random-word rows
that fill the 256 tokens, so every row is full length as in the reference; its tokens/s is read
from --metrics over the steps after the warm-up ones. The reference runs as the issue specifies
(--threads 2) and, as a control, with one libtorch thread (the setting `gradients train` picks:
see trainers/trainer.h). The same run measures the machine's float32 matrix-product peak
(bench/matmul_gflops) and reports the share of it each step reaches, counting the matrix
products of the step: forward 2*T*P for P weights in matrix products (lm_head included) and
2*2*b*s^2*h per layer for attention; backward twice that for full fine-tuning, once for LoRA
(no weight gradients of the base), attention's always twice.
Timings on this shared 2-core machine vary by 10-20% from run to run, so the three are run
--repeats times, interleaved, and the median of each is reported.

  /usr/bin/python3 bench/train_bench.py [--build build] [--reference ../shared/bench/torch_reference.py]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = dict(hidden=256, layers=4, heads=4, ffn=688, vocab=4096, batch=8, seq=256)


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def step_flops(mode):
    h, layers, ffn, vocab, b, s = (SHAPE[k] for k in ("hidden", "layers", "ffn", "vocab", "batch", "seq"))
    tokens = b * s
    weights = layers * (4 * h * h + 3 * h * ffn) + vocab * h
    linear = 2 * tokens * weights
    attention = layers * 2 * 2 * b * s * s * h
    return (3 if mode == "full" else 2) * linear + 3 * attention


def make_model(gradients, work):
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w") as f:
        for _ in range(20000):
            f.write(" ".join(rng.choice(words) for _ in range(12)) + "\n")
    prefix = os.path.join(work, "sp4096")
    run(["spm_train", f"--input={corpus}", f"--model_prefix={prefix}", "--vocab_size=4096", "--model_type=bpe",
         "--bos_id=1", "--eos_id=2", "--unk_id=0", "--pad_id=-1", "--minloglevel=2",
         "--normalization_rule_name=identity", "--remove_extra_whitespaces=false", "--byte_fallback=true",
         "--character_coverage=1.0"])
    model = os.path.join(work, "model")
    run([gradients, "init-model", "--preset", "small", "--tokenizer", prefix + ".model", "--out", model])
    config = json.load(open(os.path.join(model, "config.json")))
    assert config["vocab_size"] == SHAPE["vocab"] and config["hidden_size"] == SHAPE["hidden"], config
    data = os.path.join(work, "data.jsonl")
    with open(data, "w") as f:
        for _ in range(64):
            f.write(json.dumps({"text": " ".join(rng.choice(words) for _ in range(400))}) + "\n")
    return model, data


def gradients_train(gradients, model, data, work, mode, warmup, steps):
    out, metrics = tempfile.mkdtemp(dir=work), os.path.join(tempfile.mkdtemp(dir=work), "metrics.jsonl")
    hp = {"mode": mode, "learning_rate": 1e-4, "lr_scheduler": "constant", "warmup_steps": 0,
          "micro_batch_size": SHAPE["batch"], "gradient_accumulation_steps": 1, "max_length": SHAPE["seq"],
          "max_steps": warmup + steps, "validation_fraction": 0, "weight_decay": 0, "max_grad_norm": 0,
          "lora": {"r": 16, "alpha": 32, "dropout": 0}}
    config = os.path.join(work, f"hp-{mode}.json")
    json.dump(hp, open(config, "w"))
    run([gradients, "train", "--model", model, "--data", data, "--format", "text", "--out", out, "--config", config,
         "--metrics", metrics, "--log-every", "1", "--device", "cpu"])
    records = [json.loads(line) for line in open(metrics) if '"step"' in line]
    records = [r for r in records if r["event"] == "step"]
    first, last = records[warmup - 1], records[-1]
    assert last["tokens"] - first["tokens"] == steps * SHAPE["batch"] * SHAPE["seq"], "rows were not full length"
    seconds = last["elapsed_seconds"] - first["elapsed_seconds"]
    return {"impl": "gradients train", "mode": mode, "tokens_per_s": round(steps * SHAPE["batch"] * SHAPE["seq"] / seconds, 1),
            "step_ms": round(1000 * seconds / steps, 1), "loss": last["loss"]}


def reference(python, path, mode, threads, warmup, steps):
    cmd = [python, path, "train-bench", "--mode", mode, "--threads", str(threads), "--steps", str(steps),
           "--warmup", str(warmup), "--rank", "16", "--alpha", "32", "--kv-heads", str(SHAPE["heads"])]
    for key in ("hidden", "layers", "heads", "ffn", "vocab", "batch", "seq"):
        cmd += [f"--{key}", str(SHAPE[key])]
    result = json.loads(run(cmd))
    result["impl"] = f"reference, {threads} thread{'s' if threads > 1 else ''}"
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--reference", default=os.path.join(ROOT, "../shared/bench/torch_reference.py"))
    parser.add_argument("--python", default="/usr/bin/python3", help="the reference's interpreter")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gradients = os.path.join(args.build, "cli/gradients")
    peak_line = run([os.path.join(args.build, "bench/matmul_gflops"), "1024", "10"])
    peak = float(peak_line.split("GFLOP/s")[0].split()[-1])
    print(f"matrix-product peak: {peak_line.strip()}")
    with tempfile.TemporaryDirectory() as work:
        model, data = make_model(gradients, work)
        print("| mode | implementation | tokens/s, median (each run) | step ms | GFLOP/s | share of peak | "
              "vs reference (2 threads) |")
        print("|---|---|---|---|---|---|---|")
        for mode in ("lora", "full"):
            runs = {}
            for _ in range(args.repeats):
                for result in (reference(args.python, args.reference, mode, 2, args.warmup, args.steps),
                               reference(args.python, args.reference, mode, 1, args.warmup, args.steps),
                               gradients_train(gradients, model, data, work, mode, args.warmup, args.steps)):
                    runs.setdefault(result["impl"], []).append(result)
            medians = {impl: sorted(rs, key=lambda r: r["tokens_per_s"])[len(rs) // 2] for impl, rs in runs.items()}
            baseline = medians["reference, 2 threads"]["tokens_per_s"]
            for impl, r in medians.items():
                gflops = step_flops(mode) / (r["step_ms"] / 1000) / 1e9
                spread = ", ".join(f"{x['tokens_per_s']:,.0f}" for x in runs[impl])
                print(f"| {mode} | {impl} | {r['tokens_per_s']:,.0f} ({spread}) | {r['step_ms']:.0f} | {gflops:.1f} | "
                      f"{100 * gflops / peak:.0f}% | {r['tokens_per_s'] / baseline:.2f}x |", flush=True)

if __name__ == "__main__":
    main()
