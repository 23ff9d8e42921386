#!/usr/bin/env python3
"""Summarises a Chrome trace written by PyTorch's profiler (kineto): `train_throughput --profile`
or `hf_train_bench.py --profile`. Prints where the GPU's time goes and whether the host keeps it fed:

  wall: from the first operator to the last kernel; gpu busy: the union of kernel and memcpy/memset
  intervals; the kernels grouped by name (count, total ms, share); host calls that wait for the
  device (cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize, blocking memcpy).

  python3 bench/gpu/profile_summary.py TRACE.json [--top 25] [--steps 3]
"""
import argparse
import collections
import json

SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy ",
              "cudaMemcpy2D ", "cudaStreamWaitEvent")


def busy_time(intervals):
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--steps", type=int, default=3, help="steps in the trace (default 3)")
    args = parser.parse_args()
    with open(args.trace) as f:
        events = [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X" and "dur" in e]
    device = [e for e in events if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    kernels = [e for e in events if e.get("cat") == "kernel"]
    cpu_ops = [e for e in events if e.get("cat") == "cpu_op"]
    runtime = [e for e in events if e.get("cat") in ("cuda_runtime", "cuda_driver")]
    if not events:
        print("no events in", args.trace)
        return
    first = min(e["ts"] for e in events)
    last = max(e["ts"] + e["dur"] for e in events)
    wall_ms = (last - first) / 1000
    busy_ms = busy_time([(e["ts"], e["ts"] + e["dur"]) for e in device]) / 1000
    per_step = lambda ms: ms / args.steps
    print(f"wall {per_step(wall_ms):.2f} ms/step, gpu busy {per_step(busy_ms):.2f} ms/step "
          f"({100 * busy_ms / wall_ms:.0f}%), kernels {len(kernels) / args.steps:.0f}/step, "
          f"cpu ops {len(cpu_ops) / args.steps:.0f}/step, "
          f"launches {sum(1 for e in runtime if 'Launch' in e['name']) / args.steps:.0f}/step")
    syncs = collections.Counter(e["name"] for e in runtime if e["name"].startswith(SYNC_CALLS))
    sync_ms = collections.defaultdict(float)
    for e in runtime:
        if e["name"].startswith(SYNC_CALLS):
            sync_ms[e["name"]] += e["dur"] / 1000
    for name, count in syncs.most_common():
        print(f"  host waits: {name} x{count / args.steps:.1f}/step, {per_step(sync_ms[name]):.3f} ms/step")
    groups = collections.defaultdict(lambda: [0, 0.0])
    for e in device:
        name = e["name"][:110]
        groups[name][0] += 1
        groups[name][1] += e["dur"] / 1000
    total = sum(ms for _, ms in groups.values()) or 1.0
    print(f"{'ms/step':>8} {'share':>6} {'count':>6}  kernel")
    for name, (count, ms) in sorted(groups.items(), key=lambda item: -item[1][1])[:args.top]:
        print(f"{per_step(ms):8.3f} {100 * ms / total:5.1f}% {count / args.steps:6.0f}  {name}")
    op_groups = collections.defaultdict(lambda: [0, 0.0])
    for e in cpu_ops:
        op_groups[e["name"]][0] += 1
        op_groups[e["name"]][1] += e["dur"] / 1000
    print("host operators by count (top 15):")
    for name, (count, ms) in sorted(op_groups.items(), key=lambda item: -item[1][0])[:15]:
        print(f"  {count / args.steps:6.0f}/step {per_step(ms):8.3f} ms/step  {name}")


if __name__ == "__main__":
    main()
