#!/usr/bin/env python3
"""Checks Gradients' safetensors files against Hugging Face's safetensors library, both ways.

1. tests/data/safetensors/valid/*.safetensors load with safetensors.torch; golden.safetensors is
   what SafetensorsWriter produces byte for byte (SafetensorsWriter.MatchesTheGoldenFileByteForByte),
   so this shows Hugging Face loads the writer's output.
2. Hugging Face writes written_by_huggingface.safetensors into --out, with the contents that
   tests/common/safetensors_test.cpp (ReadsAFileWrittenByHuggingFace) expects; it is committed
   under tests/data/safetensors/valid/ so every CI run checks the reader against it.
Needs torch and safetensors (the GPU machine has both).
"""
import argparse
import glob
import json
import os

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def huggingface_tensors():
    return {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
        "bf16": torch.arange(4, dtype=torch.bfloat16) - 1,
        "f16": torch.arange(3, dtype=torch.float16) * 0.5,
        "f8_e4m3": torch.tensor([1.0, -2.0], dtype=torch.float8_e4m3fn),
        "i64_scalar": torch.tensor(7, dtype=torch.int64),
        "i32": torch.tensor([[-1, 2]], dtype=torch.int32),
        "u8": torch.arange(5, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros((0, 4), dtype=torch.float32),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    report = {"safetensors_version": safetensors.__version__, "torch_version": torch.__version__, "loaded": {}}

    for path in sorted(glob.glob(os.path.join(args.repo, "tests/data/safetensors/valid/*.safetensors"))):
        tensors = load_file(path)
        with safe_open(path, "pt") as f:
            metadata = f.metadata()
        report["loaded"][os.path.basename(path)] = {
            "metadata": metadata,
            "tensors": {name: {"dtype": str(t.dtype), "shape": list(t.shape),
                               "values": t.float().flatten().tolist()[:8]} for name, t in tensors.items()},
        }

    written = os.path.join(args.out, "written_by_huggingface.safetensors")
    save_file(huggingface_tensors(), written, metadata={"format": "pt", "producer": "huggingface-safetensors"})
    reread = load_file(written)
    assert all(torch.equal(reread[k], v) for k, v in huggingface_tensors().items())
    report["written"] = os.path.basename(written)

    with open(os.path.join(args.out, "safetensors_interop.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    print("safetensors interop: ok")


if __name__ == "__main__":
    main()
