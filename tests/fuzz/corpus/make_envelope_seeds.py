#!/usr/bin/env python3
"""Writes the envelope fuzzer's seed corpus (tests/fuzz/corpus/envelope/*.bin).

The byte layout is the one documented in common/envelope.h. Signatures are arbitrary bytes:
the fuzzer exercises decoding, and verification only has to fail cleanly.
Run: /usr/bin/python3 tests/fuzz/corpus/make_envelope_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "envelope")


def body(domain, fields):
    out = b"GRDENV\x00\x01" + struct.pack("<I", len(domain)) + domain
    out += struct.pack("<I", len(fields))
    for name, value in fields:
        out += struct.pack("<I", len(name)) + name + struct.pack("<I", len(value)) + value
    return out


def signed(b):
    return struct.pack("<I", len(b)) + b + bytes(range(32)) + bytes(range(64, 128))


SEEDS = {
    "checkpoint": signed(body(b"gradients/checkpoint/v1", [
        (b"validator_id", b"validator-1"), (b"task_id", b"task-42"), (b"miner_key", bytes(32)),
        (b"nonce", bytes(range(32))), (b"manifest_digest", bytes(32)), (b"created_at_ms", struct.pack("<Q", 1764133382000))])),
    "auth": signed(body(b"gradients/auth/v1", [(b"validator_id", b"v"), (b"nonce", b"\xff" * 32)])),
    "no_fields": signed(body(b"d", [])),
    "empty_value": signed(body(b"gradients/x", [(b"a", b"")])),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)
