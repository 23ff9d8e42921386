// From tokenized examples to the micro-batches of a fine-tuning run: a seeded validation split,
// then, epoch by epoch, a seeded order of rows cut into micro-batches. Everything is a pure
// function of (examples, options, epoch), so a run resumed at (epoch, batch index) sees exactly
// the batches it would have seen: the plan stores index lists only and builds a batch on demand.
//
// Shuffles use std::mt19937_64 (whose output the standard fixes) and a Fisher-Yates of our own,
// never std::shuffle or std::uniform_int_distribution, whose results differ between standard
// libraries: the same seed gives the same batches on every platform.
//
// Labels follow the Hugging Face convention (text/dataset.h): the model shifts, so position
// i's logits are scored against labels[i + 1] and a row's first label never counts.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "text/dataset.h"

namespace gradients::text {

// The document id of padding in a packed batch: it matches no document, so padding attends only
// to padding (each pad at least to itself: no fully masked softmax row).
inline constexpr int64_t kPaddingDocumentId = -1;

struct DataSplit {
  std::vector<TokenizedExample> train;
  std::vector<TokenizedExample> validation;
};

// Carves a local validation split out of `examples`: round(fraction * n) examples, at least 1
// when fraction > 0 and n >= 2, never all of them (at most n - 1), chosen by a shuffle seeded
// from `seed`; a fraction <= 0 (or NaN) gives no validation examples. Each part keeps file
// order. Same examples and seed, same split.
DataSplit SplitValidation(std::vector<TokenizedExample> examples, double fraction, uint64_t seed);

struct BatchingOptions {
  // Rows per micro-batch; at least 1.
  int64_t micro_batch_size = 2;
  // Tokens per row; longer examples lose their end. At least 2 (one token predicting another).
  int64_t max_length = 1024;
  // Several documents per row, kept apart by position_ids and document_ids (see TrainingBatch).
  bool packing = false;
  // The input id of padding; it is never a label.
  int32_t pad_id = 0;
  // Seeds the packing layout and every epoch's order.
  uint64_t seed = 42;
};

// micro_batch_size >= 1 and max_length >= 2; the error names the option.
common::Status ValidateBatchingOptions(const BatchingOptions& options);

// One micro-batch, row-major [rows, columns], each row padded on the right to the longest row.
struct TrainingBatch {
  int64_t rows = 0;
  int64_t columns = 0;
  // Padding: pad_id.
  std::vector<int64_t> input_ids;
  // kIgnoredLabel on padding and masked tokens and, when packing, on each document's first
  // token (the previous document cannot predict it).
  std::vector<int64_t> labels;
  // Packing only (else empty): each document counts from 0; the padding at a row's end counts
  // from 0 as a document of its own.
  std::vector<int64_t> position_ids;
  // Packing only (else empty): 0, 1, ... for the documents of a row, kPaddingDocumentId for
  // padding. Attention stays within equal ids.
  std::vector<int64_t> document_ids;
  // Non-padding tokens.
  int64_t tokens = 0;
  // Positions i >= 1 of each row with a label: what the loss averages over.
  int64_t predicted_tokens = 0;

  friend bool operator==(const TrainingBatch&, const TrainingBatch&) = default;
};

// The micro-batches of one epoch, in order.
//
// Examples are truncated to max_length; one with no label at a position i >= 1 after that trains
// nothing and is skipped (counted by skipped()). The remaining documents form rows: one document
// per row without packing; with packing, documents in an order shuffled from the seed fill rows
// greedily (a new row starts when the next document does not fit in max_length). The packing
// layout depends on the seed only, so every epoch has the same rows, the same number of
// micro-batches and the same tokens: what the trainer needs to count total optimizer steps.
// Epoch e then shuffles the rows with a generator seeded from (seed, e) and cuts them into
// micro-batches of micro_batch_size rows (the last may have fewer).
//
// The plan refers to `examples` without copying them: they must outlive it and stay unchanged.
// Safe to read from several threads.
class EpochPlan {
 public:
  // InvalidArgument for options ValidateBatchingOptions refuses, a negative epoch, or an example
  // whose input_ids and labels differ in length (naming it: "example 3: ...", counting from 1).
  static common::Result<EpochPlan> Create(std::span<const TokenizedExample> examples, const BatchingOptions& options,
                                  int64_t epoch);

  // Micro-batches in this epoch; equal for every epoch.
  int64_t size() const;
  // Micro-batch `index`, 0 <= index < size().
  TrainingBatch Batch(int64_t index) const;
  // Examples left out for having nothing to train.
  int64_t skipped() const { return skipped_; }
  // Non-padding tokens over the epoch (after truncation).
  int64_t tokens() const { return tokens_; }
  int64_t epoch() const { return epoch_; }

 private:
  EpochPlan(std::span<const TokenizedExample> examples, const BatchingOptions& options, int64_t epoch);

  int64_t RowCount() const { return static_cast<int64_t>(row_order_.size()); }
  // The documents of row `row` (in layout numbering), in order.
  std::span<const size_t> RowDocuments(size_t row) const;
  int64_t TruncatedLength(size_t document) const;
  int64_t RowLength(std::span<const size_t> documents) const;
  // Writes `documents` into `batch` from cell `row_begin` on and counts their tokens.
  void FillRow(std::span<const size_t> documents, size_t row_begin, TrainingBatch& batch) const;

  std::span<const TokenizedExample> examples_;
  BatchingOptions options_;
  int64_t epoch_ = 0;
  // Row r holds the examples row_documents_[row_starts_[r] .. row_starts_[r + 1]).
  std::vector<size_t> row_starts_;
  std::vector<size_t> row_documents_;
  // This epoch's order of the rows.
  std::vector<size_t> row_order_;
  int64_t skipped_ = 0;
  int64_t tokens_ = 0;
};

// The micro-batches every epoch has (EpochPlan::size()), with Create's errors.
common::Result<int64_t> MicroBatchesPerEpoch(std::span<const TokenizedExample> examples, const BatchingOptions& options);

}  // namespace gradients::text
