#!/usr/bin/env python3
"""Baseline for the GPU training-throughput benchmark: transformers + PEFT on the same shapes and
settings as the C++ trainer, reporting training tokens/s and peak GPU memory.

What one run measures, per (shape, mode):
  * a LlamaForCausalLM randomly initialised from a LlamaConfig (rms_norm_eps 1e-5, rope_theta 10000,
    untied embeddings, attn_implementation="sdpa", no KV cache), weights in float32 on cuda;
  * forward + loss under torch.autocast("cuda", dtype=torch.bfloat16), the loss from the model's own
    `labels=` path (input_ids = labels: full-length random rows, no padding, drawn on the GPU with a
    fixed seed before timing);
  * torch.optim.AdamW(lr=1e-4, weight_decay=0.0, fused=True) over the trainable parameters:
    mode `lora` = PEFT LoRA r=16, alpha=32, dropout 0 on q/k/v/o/gate/up/down (base frozen),
    mode `full` = every parameter;
  * `--warmup` untimed steps, then `--steps` timed steps (forward, backward, optimizer.step,
    zero_grad(set_to_none=True)) with no host sync inside the loop, one synchronize at the end;
  * tokens/s = batch * seq * steps / seconds; peak GiB = torch.cuda.max_memory_allocated() / 2**30,
    the peak statistics reset once the model is built (so the weights count, the build does not).

Output: one JSON object per line on stdout (appended to --out as well):
  {"impl": "transformers+peft", "shape", "mode", "batch", "seq", "tokens_per_s", "peak_gib", "step_ms",
   "loss", "seconds", "warmup", "steps", "params_total", "params_trainable", "versions": {...}}
  A run that runs out of GPU memory reports "error": "out of memory" in place of the measurements.

  python3 bench/gpu/hf_train_bench.py                                   # every shape, lora and full
  python3 bench/gpu/hf_train_bench.py --shape h288 --shape h768 --mode lora --steps 20 --out r.jsonl
  python3 bench/gpu/hf_train_bench.py --dry-run                         # print the plan, no GPU needed
"""
import argparse
import gc
import json
import time

SHAPES = {  # hidden, layers, heads, kv heads, ffn, vocab, batch, seq
    "h288": dict(hidden=288, layers=6, heads=6, kv_heads=6, ffn=768, vocab=32000, batch=16, seq=512),
    "h768": dict(hidden=768, layers=12, heads=12, kv_heads=12, ffn=2048, vocab=32000, batch=16, seq=1024),
    "tinyllama": dict(hidden=2048, layers=22, heads=32, kv_heads=4, ffn=5632, vocab=32000, batch=8, seq=2048),
}
MODES = ("lora", "full")
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
IMPL = "transformers+peft"


def versions():
    import torch
    import transformers
    try:
        import peft
        peft_version = peft.__version__
    except ImportError:  # only `--mode full` can run without it
        peft_version = None
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
            "peft": peft_version, "gpu": torch.cuda.get_device_name(0)}


def build_model(shape, mode):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(
        vocab_size=shape["vocab"], hidden_size=shape["hidden"], intermediate_size=shape["ffn"],
        num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
        num_key_value_heads=shape["kv_heads"], max_position_embeddings=max(2048, shape["seq"]),
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False, use_cache=False, attn_implementation="sdpa")
    with torch.device("cuda"):  # initialise directly on the GPU
        model = LlamaForCausalLM(config)
    model = model.to(dtype=torch.float32)  # fp32 master weights; autocast does the bf16 compute
    if mode == "lora":
        from peft import LoraConfig, get_peft_model
        lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=LORA_TARGETS, bias="none",
                          task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)  # freezes the base model
    model.train()
    return model


def run_one(name, mode, args):
    """Builds, warms up and times one (shape, mode); returns the measurements."""
    import torch
    shape = SHAPES[name]
    batch, seq = shape["batch"], shape["seq"]
    torch.manual_seed(args.seed)
    model = build_model(shape, mode)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, fused=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()

    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    rows = [torch.randint(0, shape["vocab"], (batch, seq), device="cuda", generator=gen)
            for _ in range(args.warmup + args.steps)]

    def step(ids):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    for ids in rows[:args.warmup]:
        step(ids)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for ids in rows[args.warmup:]:
        loss = step(ids)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if args.profile:  # three more steps under the profiler, for bench/gpu/profile_summary.py
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiler:
            for ids in rows[args.warmup:args.warmup + 3]:
                step(ids)
            torch.cuda.synchronize()
        profiler.export_chrome_trace(args.profile)

    return {"tokens_per_s": batch * seq * args.steps / seconds,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
            "step_ms": 1000.0 * seconds / args.steps,
            "loss": loss.item(),
            "seconds": seconds,
            "params_total": sum(p.numel() for p in model.parameters()),
            "params_trainable": sum(p.numel() for p in params)}


def emit(record, out):
    line = json.dumps(record)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", action="append", choices=[*SHAPES, "all"],
                        help="shape preset, repeatable, or 'all' (default: all)")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="default: both")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the rows (default 0)")
    parser.add_argument("--profile", metavar="TRACE.json", help="profile three more steps into a Chrome trace")
    parser.add_argument("--out", metavar="FILE.jsonl", help="also append the JSON lines to this file")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit (no torch needed)")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    shapes = args.shape or ["all"]
    args.shapes = list(SHAPES) if "all" in shapes else list(dict.fromkeys(shapes))
    args.modes = list(MODES) if args.mode == "both" else [args.mode]
    return args


def main():
    args = parse_args()
    plan = [(name, mode) for name in args.shapes for mode in args.modes]
    if args.dry_run:
        for name, mode in plan:
            print(json.dumps({"impl": IMPL, "shape": name, "mode": mode, **SHAPES[name],
                              "warmup": args.warmup, "steps": args.steps, "seed": args.seed}))
        return

    import torch
    if not torch.cuda.is_available():
        raise SystemExit("hf_train_bench: no CUDA device")
    info = versions()
    for name, mode in plan:
        record = {"impl": IMPL, "shape": name, "mode": mode, "batch": SHAPES[name]["batch"],
                  "seq": SHAPES[name]["seq"]}
        try:
            record.update(run_one(name, mode, args))
        except torch.OutOfMemoryError:  # the traceback (and the run's tensors) go when this block ends
            record["error"] = "out of memory"
        record.update(warmup=args.warmup, steps=args.steps, versions=info)
        gc.collect()
        torch.cuda.empty_cache()  # so that the next run's peak is its own
        emit(record, args.out)


if __name__ == "__main__":
    main()
