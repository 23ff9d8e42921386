#!/usr/bin/env bash
# The tokenizer test fixtures and where they come from.
#   varied_corpus.jsonl                 hand-written: one JSON string per line (Unicode, whitespace
#                                       runs, contractions, digits, emoji, CJK, newlines); no U+0085 or
#                                       U+FEFF, which JavaScript's \s and Oniguruma's disagree on
#   sentencepiece_training_corpus.txt   hand-written text that the tests train SentencePiece on
#   gpt2_reference_encode.js            run by the tests with node on the npm package gpt-3-encoder
#   pretokenizer_splits.json            generated here: the Llama-3 and Qwen2 regex splits of the corpus
#
# Regenerating needs Debian's python3-regex (apt-get install python3-regex); the tests never run Python.
set -euo pipefail
cd "$(dirname "$0")"
/usr/bin/python3 generate_pretokenizer_splits.py
echo "wrote $(pwd)/pretokenizer_splits.json"
