#!/usr/bin/env python3
"""`gradients eval` against the PyTorch reference computing the same loss, side by side, on CPU.

For each preset (tiny, small) it writes a model with `gradients init-model`, a text dataset of
long documents, and evaluates the first --tokens tokens of every document twice: with
`gradients eval --max-len N` and with `torch_reference.py loss` on the very same token ids
(taken from `gradients tokenize`, with the BOS the dataset code prepends). The losses must agree
to 1e-4 relative; tokens/s is end to end (process start, model load, tokenization, forward),
the same work on both sides.

  /usr/bin/python3 bench/eval_throughput.py [--build build] [--reference ../shared/bench/torch_reference.py]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "tests/data/models/tokenizer_sp512/tokenizer.model")
WORDS = ("the of and to in is was for on that with as by at from his her an which one all were they "
         "model data train loss token market miner validator weight score task deadline gradient layer "
         "attention head vector matrix sum mean value error rate batch epoch learning schedule").split()


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{result.stderr}")
    return result.stdout


def timed(cmd, **kwargs):
    start = time.perf_counter()
    out = run(cmd, **kwargs)
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--reference", default=os.path.join(ROOT, "../shared/bench/torch_reference.py"))
    # The reference takes its ids on the command line, which caps a run at about 128 KiB of JSON.
    parser.add_argument("--documents", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gradients = os.path.join(args.build, "cli/gradients")
    rng = random.Random(0)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "docs.jsonl")
        texts = [" ".join(rng.choice(WORDS) for _ in range(700)) for _ in range(args.documents)]
        with open(data, "w") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        ids = [json.loads(line) for line in
               run([gradients, "tokenize", "--tokenizer", TOKENIZER], input="\n".join(json.dumps(t) for t in texts) + "\n")
               .splitlines()]
        bos = json.loads(run([gradients, "tokenize", "--tokenizer", TOKENIZER, "--add-special"], input='""\n'))
        for preset, length in (("tiny", 128), ("small", 256)):
            model = os.path.join(work, preset)
            run([gradients, "init-model", "--preset", preset, "--out", model, "--tokenizer", TOKENIZER, "--seed", "1"])
            reference_ids = json.dumps([(bos + doc)[:length] for doc in ids])
            best = {"gradients": None, "reference": None}
            for _ in range(args.repeats):
                ours, ours_s = timed([gradients, "eval", "--model", model, "--data", data, "--format", "text",
                                      "--max-len", str(length), "--batch-tokens", "4096"])
                theirs, theirs_s = timed(["/usr/bin/python3", args.reference, "loss", "--model", model,
                                          "--ids", reference_ids])
                best["gradients"] = min(best["gradients"] or ours_s, ours_s)
                best["reference"] = min(best["reference"] or theirs_s, theirs_s)
            ours, theirs = json.loads(ours), json.loads(theirs)
            tokens = args.documents * length
            rel = abs(ours["loss"] - theirs["loss"]) / theirs["loss"]
            if ours["documents"] != args.documents or rel > 1e-4:
                sys.exit(f"{preset}: losses differ: gradients {ours} reference {theirs}")
            rows.append({"preset": preset, "documents": args.documents, "tokens_per_document": length,
                         "loss_gradients": ours["loss"], "loss_reference": theirs["loss"],
                         "gradients_s": round(best["gradients"], 3), "reference_s": round(best["reference"], 3),
                         "gradients_tokens_per_s": round(tokens / best["gradients"]),
                         "reference_tokens_per_s": round(tokens / best["reference"]),
                         "speedup": round(best["reference"] / best["gradients"], 2)})
            print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
