// Synthetic instruct tasks with one right answer each, generated from a seed (SplitMix64, so the
// same seed gives the same rows everywhere): the market benchmark's reasoning and retrieval
// families, beside the tasks made from Debian's texts.
//   arithmetic:    "What is 47 + 385?" -> "432" (+, - and x on numbers up to three digits)
//   word-problems: two to four steps of a story about counted things -> the final count
//   retrieval:     a context of eight "The code of NAME is NNNN." facts and a question about one
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "corpora/task_datasets.h"

namespace gradients::corpora {

// `options.rows` rows (1000 when 0); instruct columns instruction (and input for retrieval), output.
std::vector<nlohmann::json> ArithmeticRows(const CorpusOptions& options);
std::vector<nlohmann::json> WordProblemRows(const CorpusOptions& options);
std::vector<nlohmann::json> RetrievalRows(const CorpusOptions& options);

}  // namespace gradients::corpora
