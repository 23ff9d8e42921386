#!/usr/bin/env bash
# Regenerates tests/data/models/tokenizer_sp512/tokenizer.model: a 512-piece SentencePiece BPE
# model with byte fallback and Llama-2's settings (<unk>=0, <s>=1, </s>=2, identity normalization,
# whitespace kept), trained with Debian's spm_train on the tokenizer tests' corpus. The model and
# CLI tests pair it with the tiny model preset.
set -euo pipefail
cd "$(dirname "$0")"
out=tokenizer_sp512
mkdir -p "$out"
spm_train --input=../tokenizers/sentencepiece_training_corpus.txt --model_prefix="$out/tokenizer" \
  --vocab_size=512 --model_type=bpe --byte_fallback=true --character_coverage=1.0 \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --normalization_rule_name=identity --remove_extra_whitespaces=false \
  --num_threads=1 --minloglevel=2
rm -f "$out/tokenizer.vocab"
