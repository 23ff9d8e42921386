#!/usr/bin/python3
"""Writes the safetensors test corpus next to this script (stdlib only; outputs are committed).

malformed/<rule>.safetensors breaks exactly one rule of the reader; tests/common/safetensors_test.cpp
maps every file to the error it must produce. valid/ holds files the reader must accept: one laid out
byte for byte as SafetensorsWriter (and Hugging Face's serializer) would write it, and others that
other writers may legitimately produce.

Run: /usr/bin/python3 tests/data/safetensors/make_corpus.py
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def raw(header, data=b"", length=None):
    """A file from header text taken as is (so it can hold duplicate keys or bad bytes)."""
    if isinstance(header, str):
        header = header.encode("utf-8")
    if length is None:
        length = len(header)
    return struct.pack("<Q", length) + header + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def with_header(obj, data=b""):
    return raw(compact(obj), data)


def like_writer(tensors, metadata=None):
    """The layout of SafetensorsWriter: sorted keys, data by descending element size then name,
    header padded with spaces so that the data section starts at a multiple of 8."""
    order = sorted(tensors, key=lambda name: (-DTYPE_SIZES[tensors[name][0]], name))
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name in order:
        dtype, shape, payload = tensors[name]
        header[name] = entry(dtype, shape, len(data), len(data) + len(payload))
        data += payload
    text = json.dumps(header, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return raw(text, data)


F32x2 = struct.pack("<2f", 1.0, 2.0)

MALFORMED = {
    "too_short": b"\x05\x00\x00\x00\x00",
    # The cap is checked before the file size, so the file can stay tiny.
    "header_length_above_cap": raw(b"{}", length=1 << 40),
    "header_length_past_end_of_file": raw(b"{}", length=100),
    "invalid_utf8": raw(b'{"w\xff":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', F32x2),
    "not_json": raw(b"{not json}"),
    "nesting_too_deep": raw(b'{"w":{"dtype":"F32","shape":[[[2]]],"data_offsets":[0,8]}}', F32x2),
    "header_not_object": raw(b"[1,2]"),
    "duplicate_key": raw(b'{"weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                         b'"weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', F32x2),
    "tensor_entry_not_object": with_header({"weight": 5}),
    "tensor_entry_unknown_field": with_header(
        {"weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "offsets": [0, 8]}}, F32x2),
    "tensor_entry_missing_field": with_header({"weight": {"dtype": "F32", "data_offsets": [0, 8]}}, F32x2),
    "empty_tensor_name": with_header({"": entry("F32", [2], 0, 8)}, F32x2),
    "dtype_not_in_whitelist": with_header({"weight": entry("F128", [2], 0, 8)}, F32x2),
    "dtype_not_string": with_header({"weight": entry(4, [2], 0, 8)}, F32x2),
    "rank_above_limit": with_header({"weight": entry("F32", [1] * 9, 0, 4)}, F32x2[:4]),
    "shape_not_array": with_header({"weight": entry("F32", 2, 0, 8)}, F32x2),
    "negative_shape_entry": with_header({"weight": entry("F32", [2, -2], 0, 8)}, F32x2),
    "fractional_shape_entry": with_header({"weight": entry("F32", [2.5], 0, 8)}, F32x2),
    "element_count_overflow": with_header({"weight": entry("F32", [1 << 32, 1 << 32], 0, 8)}, F32x2),
    "byte_size_overflow": with_header({"weight": entry("F32", [1 << 62], 0, 8)}, F32x2),
    "data_offsets_not_pair": with_header({"weight": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, F32x2),
    "data_offsets_negative": with_header({"weight": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, F32x2),
    "data_offsets_reversed": with_header({"weight": entry("F32", [2], 8, 0)}, F32x2),
    "byte_size_differs_from_offsets": with_header({"weight": entry("F32", [2], 0, 4)}, F32x2[:4]),
    "overlapping_tensors": with_header({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, F32x2 + b"\0" * 4),
    "gap_between_tensors": with_header({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, b"\0" * 12),
    "first_tensor_not_at_zero": with_header({"a": entry("F32", [1], 4, 8)}, b"\0" * 8),
    "trailing_bytes": with_header({"a": entry("F32", [2], 0, 8)}, F32x2 + b"\0" * 3),
    "data_past_end_of_file": with_header({"a": entry("F32", [2], 0, 8)}, F32x2[:5]),
    "metadata_not_object": with_header({"__metadata__": "pt"}),
    "metadata_value_not_string": with_header({"__metadata__": {"epochs": 3}}),
}


def golden_tensors():
    return {
        "step": ("I64", [], struct.pack("<q", 1234)),
        "embed.weight": ("F32", [2, 2], struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)),
        "bias": ("F16", [3], struct.pack("<3e", 1.0, 0.5, -1.0)),
        "empty": ("BF16", [0, 4], b""),
        "mask": ("BOOL", [5], bytes([1, 0, 1, 1, 0])),
    }


VALID = {
    # Byte-identical to SafetensorsWriter's output for the same tensors (asserted by the tests).
    "golden": like_writer(golden_tensors(), {"format": "pt", "source": "make_corpus.py"}),
    "no_tensors": like_writer({}),
    # Another writer's choices: unsorted keys, metadata last, no padding, a zero-size tensor
    # sharing its offset with the next one, a non-ASCII name.
    "unpadded_unsorted": raw(compact({
        "z": entry("U8", [3], 2, 5),
        "\u00e9t\u00e9": entry("I16", [1], 0, 2),
        "hollow": entry("F64", [2, 0], 2, 2),
        "__metadata__": {"note": "hand-made"},
    }), b"\x01\x02\x07\x08\x09"),
}


def main():
    for folder, files in (("malformed", MALFORMED), ("valid", VALID)):
        path = os.path.join(HERE, folder)
        os.makedirs(path, exist_ok=True)
        for old in os.listdir(path):
            if old.endswith(".safetensors"):
                os.remove(os.path.join(path, old))
        for name, content in files.items():
            with open(os.path.join(path, name + ".safetensors"), "wb") as out:
                out.write(content)
    print(f"wrote {len(MALFORMED)} malformed and {len(VALID)} valid files under {HERE}")


if __name__ == "__main__":
    main()
