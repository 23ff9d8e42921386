#include "text/training_batches.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <utility>

namespace gradients::text {
namespace {

// Each use of the seed draws from its own stream, so the split, the packing layout and the epoch
// orders stay independent even though one seed drives them all.
enum class Stream : uint64_t { kValidationSplit = 1, kPackingLayout = 2, kEpochOrder = 3 };

// SplitMix64's finalizer: spreads nearby seeds (42, 43; epoch 0, 1) over unrelated generator states.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

std::mt19937_64 Generator(uint64_t seed, Stream stream, uint64_t index = 0) {
  return std::mt19937_64(Mix(Mix(Mix(seed) ^ static_cast<uint64_t>(stream)) ^ index));
}

// Uniform in [0, bound) for bound >= 1. Rejects the draws below 2^64 mod bound, so that the
// accepted range is a whole number of copies of [0, bound) and the modulo has no bias.
uint64_t UniformBelow(std::mt19937_64& generator, uint64_t bound) {
  const uint64_t rejected = (0 - bound) % bound;
  for (;;) {
    const uint64_t draw = generator();
    if (draw >= rejected) return draw % bound;
  }
}

// Fisher-Yates, written out so that the order depends on the generator alone, not on the
// standard library.
void Shuffle(std::vector<size_t>& items, std::mt19937_64 generator) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[UniformBelow(generator, i)]);
}

std::vector<size_t> Iota(size_t count) {
  std::vector<size_t> items(count);
  std::iota(items.begin(), items.end(), size_t{0});
  return items;
}

size_t ValidationCount(size_t examples, double fraction) {
  if (!(fraction > 0) || examples < 2) return 0;
  const double wanted = std::round(fraction * static_cast<double>(examples));
  if (wanted >= static_cast<double>(examples - 1)) return examples - 1;
  return std::max<size_t>(1, static_cast<size_t>(wanted));
}

// Whether the first `length` tokens hold a label the loss can score (position 0 never is).
bool HasTrainableLabel(const TokenizedExample& example, int64_t length) {
  const auto end = example.labels.begin() + length;
  return length > 1 && std::any_of(example.labels.begin() + 1, end, [](int32_t l) { return l != kIgnoredLabel; });
}

common::Status CheckExamples(std::span<const TokenizedExample> examples) {
  for (size_t i = 0; i < examples.size(); ++i) {
    if (examples[i].input_ids.size() != examples[i].labels.size()) {
      return common::Status::InvalidArgument("example " + std::to_string(i + 1) + ": " +
                                     std::to_string(examples[i].input_ids.size()) + " input_ids but " +
                                     std::to_string(examples[i].labels.size()) + " labels");
    }
  }
  return common::Status::Ok();
}

}  // namespace

DataSplit SplitValidation(std::vector<TokenizedExample> examples, double fraction, uint64_t seed) {
  std::vector<size_t> order = Iota(examples.size());
  Shuffle(order, Generator(seed, Stream::kValidationSplit));
  std::vector<bool> is_validation(examples.size(), false);
  const size_t count = ValidationCount(examples.size(), fraction);
  for (size_t i = 0; i < count; ++i) is_validation[order[i]] = true;

  DataSplit split;
  split.validation.reserve(count);
  split.train.reserve(examples.size() - count);
  for (size_t i = 0; i < examples.size(); ++i) {
    (is_validation[i] ? split.validation : split.train).push_back(std::move(examples[i]));
  }
  return split;
}

common::Status ValidateBatchingOptions(const BatchingOptions& options) {
  if (options.micro_batch_size < 1) {
    return common::Status::InvalidArgument("micro_batch_size must be at least 1, got " +
                                   std::to_string(options.micro_batch_size));
  }
  if (options.max_length < 2) {
    return common::Status::InvalidArgument("max_length must be at least 2, got " + std::to_string(options.max_length));
  }
  return common::Status::Ok();
}

common::Result<EpochPlan> EpochPlan::Create(std::span<const TokenizedExample> examples, const BatchingOptions& options,
                                    int64_t epoch) {
  GRADIENTS_RETURN_IF_ERROR(ValidateBatchingOptions(options));
  if (epoch < 0) return common::Status::InvalidArgument("epoch must not be negative, got " + std::to_string(epoch));
  GRADIENTS_RETURN_IF_ERROR(CheckExamples(examples));
  return EpochPlan(examples, options, epoch);
}

EpochPlan::EpochPlan(std::span<const TokenizedExample> examples, const BatchingOptions& options, int64_t epoch)
    : examples_(examples), options_(options), epoch_(epoch) {
  std::vector<size_t> documents;
  for (size_t i = 0; i < examples_.size(); ++i) {
    if (HasTrainableLabel(examples_[i], TruncatedLength(i))) {
      documents.push_back(i);
      tokens_ += TruncatedLength(i);
    } else {
      ++skipped_;
    }
  }
  // The layout ignores the epoch, so every epoch has the same rows and as many micro-batches.
  if (options_.packing) Shuffle(documents, Generator(options_.seed, Stream::kPackingLayout));
  int64_t row_length = 0;
  for (size_t document : documents) {
    const int64_t length = TruncatedLength(document);
    if (row_starts_.empty() || !options_.packing || row_length + length > options_.max_length) {
      row_starts_.push_back(row_documents_.size());
      row_length = 0;
    }
    row_documents_.push_back(document);
    row_length += length;
  }
  row_starts_.push_back(row_documents_.size());

  row_order_ = Iota(row_starts_.size() - 1);
  Shuffle(row_order_, Generator(options_.seed, Stream::kEpochOrder, static_cast<uint64_t>(epoch_)));
}

int64_t EpochPlan::size() const { return (RowCount() + options_.micro_batch_size - 1) / options_.micro_batch_size; }

std::span<const size_t> EpochPlan::RowDocuments(size_t row) const {
  return std::span<const size_t>(row_documents_).subspan(row_starts_[row], row_starts_[row + 1] - row_starts_[row]);
}

int64_t EpochPlan::TruncatedLength(size_t document) const {
  return std::min(static_cast<int64_t>(examples_[document].input_ids.size()), options_.max_length);
}

int64_t EpochPlan::RowLength(std::span<const size_t> documents) const {
  int64_t length = 0;
  for (size_t document : documents) length += TruncatedLength(document);
  return length;
}

TrainingBatch EpochPlan::Batch(int64_t index) const {
  assert(index >= 0 && index < size());
  const int64_t first_row = index * options_.micro_batch_size;
  TrainingBatch batch;
  batch.rows = std::min(options_.micro_batch_size, RowCount() - first_row);
  std::vector<std::span<const size_t>> rows;
  for (int64_t r = 0; r < batch.rows; ++r) {
    rows.push_back(RowDocuments(row_order_[static_cast<size_t>(first_row + r)]));
    batch.columns = std::max(batch.columns, RowLength(rows.back()));
  }
  const auto cells = static_cast<size_t>(batch.rows * batch.columns);
  batch.input_ids.assign(cells, options_.pad_id);
  batch.labels.assign(cells, kIgnoredLabel);
  if (options_.packing) {
    batch.position_ids.assign(cells, 0);
    batch.document_ids.assign(cells, kPaddingDocumentId);
  }
  for (size_t r = 0; r < rows.size(); ++r) FillRow(rows[r], r * static_cast<size_t>(batch.columns), batch);
  return batch;
}

void EpochPlan::FillRow(std::span<const size_t> documents, size_t row_begin, TrainingBatch& batch) const {
  const auto columns = static_cast<size_t>(batch.columns);
  size_t column = 0;
  int64_t document_id = 0;
  for (size_t document : documents) {
    const TokenizedExample& example = examples_[document];
    const auto length = static_cast<size_t>(TruncatedLength(document));
    const auto at = static_cast<ptrdiff_t>(row_begin + column);
    std::copy_n(example.input_ids.begin(), length, batch.input_ids.begin() + at);
    std::copy_n(example.labels.begin(), length, batch.labels.begin() + at);
    if (options_.packing) {
      batch.labels[row_begin + column] = kIgnoredLabel;
      std::iota(batch.position_ids.begin() + at, batch.position_ids.begin() + at + static_cast<ptrdiff_t>(length), 0);
      std::fill_n(batch.document_ids.begin() + at, length, document_id);
    }
    column += length;
    ++document_id;
  }
  batch.tokens += static_cast<int64_t>(column);
  // Padding counts its positions from 0 as a document of its own (its document id is already set).
  if (options_.packing) {
    std::iota(batch.position_ids.begin() + static_cast<ptrdiff_t>(row_begin + column),
              batch.position_ids.begin() + static_cast<ptrdiff_t>(row_begin + columns), 0);
  }
  for (size_t i = 1; i < columns; ++i) {
    if (batch.labels[row_begin + i] != kIgnoredLabel) ++batch.predicted_tokens;
  }
}

common::Result<int64_t> MicroBatchesPerEpoch(std::span<const TokenizedExample> examples, const BatchingOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(EpochPlan plan, EpochPlan::Create(examples, options, 0));
  return plan.size();
}

}  // namespace gradients::text
