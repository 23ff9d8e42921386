#!/usr/bin/python3
"""Writes pretokenizer_splits.json: how the Llama-3 and Qwen2 pre-tokenizer regexes split texts.

Generation only (the tests never run Python). Needs Debian's python3-regex
(apt-get install python3-regex), whose Unicode-aware `regex` module follows the same rules as the
Oniguruma engine Hugging Face tokenizers uses for these patterns. Regenerate with:
    /usr/bin/python3 tests/data/tokenizers/generate_pretokenizer_splits.py
"""
import json
import os

import regex

HERE = os.path.dirname(os.path.abspath(__file__))

# Verbatim from the "pre_tokenizer" of meta-llama/Meta-Llama-3-8B and Qwen/Qwen2-7B tokenizer.json.
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

EXTRA = [
    "I'M HERE, YOU'RE THERE, SHE'S GONE, WE'LL SEE",
    "123456789 1234567 12",
    "   \n\n  x",
    "a\r\nb\n\n\nc",
    "x   ",
    "\t\t",
    "word\u2028next\u2029para",
    "no\u180ebreak",
    "\u00a0non-breaking\u00a0",
    "$$$ ### ... !!!\n\n",
    "αβγ 123 δεζ4567",
]


def isolated_split(pattern, text):
    """Hugging Face's Split(behavior=Isolated): matches and the gaps between them, non-empty."""
    pieces, last = [], 0
    for match in regex.finditer(pattern, text):
        if match.start() > last:
            pieces.append(text[last:match.start()])
        if match.end() > match.start():
            pieces.append(match.group())
        last = match.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces


def main():
    with open(os.path.join(HERE, "varied_corpus.jsonl"), encoding="utf-8") as corpus:
        texts = [json.loads(line) for line in corpus if line.strip()]
    cases = [{"text": t, "llama3": isolated_split(LLAMA3, t), "qwen2": isolated_split(QWEN2, t)}
             for t in texts + EXTRA]
    out = {"llama3_pattern": LLAMA3, "qwen2_pattern": QWEN2, "cases": cases}
    with open(os.path.join(HERE, "pretokenizer_splits.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
