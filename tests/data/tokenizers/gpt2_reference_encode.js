// Prints the ids that the npm package gpt-3-encoder (OpenAI's GPT-2 byte-level BPE encoder,
// ported to JavaScript) gives each line of a corpus of JSON strings, one JSON array per line.
//   node gpt2_reference_encode.js <node_modules/gpt-3-encoder directory> <corpus.jsonl>
'use strict';
const fs = require('fs');

const [packageDir, corpusPath] = process.argv.slice(2);
const { encode } = require(packageDir);
const lines = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((line) => line.length > 0);
for (const line of lines) {
  process.stdout.write(JSON.stringify(encode(JSON.parse(line))) + '\n');
}
