#include "text/training_batches.h"

#include <algorithm>
#include <map>
#include <string>

#include <gtest/gtest.h>

namespace gradients::text {
namespace {

// Example k holds the ids Id(k, 0), Id(k, 1), ...: any token in a batch names its example.
constexpr int32_t kIdsPerExample = 1000;
int32_t Id(int32_t example, int64_t position) { return (example + 1) * kIdsPerExample + static_cast<int32_t>(position); }
int32_t ExampleOf(int64_t id) { return static_cast<int32_t>(id / kIdsPerExample) - 1; }

// Example `k` of `length` tokens, the first `masked` of them without a label.
TokenizedExample Example(int32_t k, int64_t length, int64_t masked = 0) {
  TokenizedExample example;
  for (int64_t i = 0; i < length; ++i) {
    example.input_ids.push_back(Id(k, i));
    example.labels.push_back(i < masked ? kIgnoredLabel : Id(k, i));
  }
  return example;
}

// Examples 0..lengths.size()-1, every label trained.
std::vector<TokenizedExample> Examples(const std::vector<int64_t>& lengths) {
  std::vector<TokenizedExample> examples;
  for (size_t k = 0; k < lengths.size(); ++k) examples.push_back(Example(static_cast<int32_t>(k), lengths[k]));
  return examples;
}

// Lengths 2..9 in a fixed scatter.
std::vector<int64_t> VariedLengths(size_t count) {
  std::vector<int64_t> lengths;
  for (size_t k = 0; k < count; ++k) lengths.push_back(2 + static_cast<int64_t>((k * 5 + k / 3) % 8));
  return lengths;
}

BatchingOptions Options(int64_t micro_batch_size, int64_t max_length, bool packing = false) {
  BatchingOptions options;
  options.micro_batch_size = micro_batch_size;
  options.max_length = max_length;
  options.packing = packing;
  return options;
}

EpochPlan Plan(std::span<const TokenizedExample> examples, const BatchingOptions& options, int64_t epoch = 0) {
  common::Result<EpochPlan> plan = EpochPlan::Create(examples, options, epoch);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return std::move(plan).value();
}

std::vector<TrainingBatch> Batches(const EpochPlan& plan) {
  std::vector<TrainingBatch> batches;
  for (int64_t i = 0; i < plan.size(); ++i) batches.push_back(plan.Batch(i));
  return batches;
}

int64_t At(const std::vector<int64_t>& cells, const TrainingBatch& batch, int64_t row, int64_t column) {
  return cells[static_cast<size_t>(row * batch.columns + column)];
}

// The examples of each row, in the order their first tokens appear.
std::vector<std::vector<int32_t>> RowExamples(const TrainingBatch& batch) {
  std::vector<std::vector<int32_t>> rows(static_cast<size_t>(batch.rows));
  for (int64_t r = 0; r < batch.rows; ++r) {
    for (int64_t c = 0; c < batch.columns; ++c) {
      const int64_t id = At(batch.input_ids, batch, r, c);
      if (id >= kIdsPerExample && id % kIdsPerExample == 0) rows[static_cast<size_t>(r)].push_back(ExampleOf(id));
    }
  }
  return rows;
}

// The examples of a whole epoch in batch order.
std::vector<int32_t> EpochOrder(const EpochPlan& plan) {
  std::vector<int32_t> order;
  for (const TrainingBatch& batch : Batches(plan)) {
    for (const std::vector<int32_t>& row : RowExamples(batch)) order.insert(order.end(), row.begin(), row.end());
  }
  return order;
}

std::vector<int32_t> Sorted(std::vector<int32_t> items) {
  std::sort(items.begin(), items.end());
  return items;
}

std::vector<int32_t> Range(int32_t count) {
  std::vector<int32_t> items;
  for (int32_t k = 0; k < count; ++k) items.push_back(k);
  return items;
}

std::string CreateError(std::span<const TokenizedExample> examples, const BatchingOptions& options,
                        int64_t epoch = 0) {
  common::Result<EpochPlan> plan = EpochPlan::Create(examples, options, epoch);
  EXPECT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), common::StatusCode::kInvalidArgument);
  return plan.status().message();
}

TEST(EpochPlan, TheSameSeedAndEpochGiveTheSameBatches) {
  const std::vector<TokenizedExample> examples = Examples(VariedLengths(30));
  for (bool packing : {false, true}) {
    const BatchingOptions options = Options(3, 16, packing);
    EXPECT_EQ(Batches(Plan(examples, options, 2)), Batches(Plan(examples, options, 2)));
  }
}

TEST(EpochPlan, DifferentEpochsAndSeedsOrderTheExamplesDifferently) {
  const std::vector<TokenizedExample> examples = Examples(VariedLengths(30));
  for (bool packing : {false, true}) {
    BatchingOptions options = Options(2, 16, packing);
    const std::vector<int32_t> first = EpochOrder(Plan(examples, options, 0));
    EXPECT_NE(first, EpochOrder(Plan(examples, options, 1)));
    options.seed = 7;
    EXPECT_NE(first, EpochOrder(Plan(examples, options, 0)));
  }
}

// A run resumed on another platform or build must see the batches it would have seen: the order
// is a function of the seed alone, pinned here.
TEST(EpochPlan, TheOrderOfASeedIsFixed) {
  const std::vector<TokenizedExample> examples = Examples(std::vector<int64_t>(10, 3));
  EXPECT_EQ(EpochOrder(Plan(examples, Options(4, 16), 0)), (std::vector<int32_t>{1, 9, 7, 3, 6, 0, 5, 2, 8, 4}));
  EXPECT_EQ(EpochOrder(Plan(examples, Options(4, 16), 1)), (std::vector<int32_t>{7, 4, 6, 2, 0, 5, 1, 3, 8, 9}));
}

TEST(EpochPlan, EveryExampleAppearsExactlyOncePerEpoch) {
  const std::vector<TokenizedExample> examples = Examples(VariedLengths(25));
  for (bool packing : {false, true}) {
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      EXPECT_EQ(Sorted(EpochOrder(Plan(examples, Options(4, 12, packing), epoch))), Range(25))
          << "packing " << packing << ", epoch " << epoch;
    }
  }
}

TEST(EpochPlan, BatchesHoldMicroBatchSizeRowsAndTheLastMayHoldFewer) {
  const std::vector<TokenizedExample> examples = Examples(VariedLengths(5));
  const EpochPlan plan = Plan(examples, Options(2, 16));
  ASSERT_EQ(plan.size(), 3);
  EXPECT_EQ(plan.Batch(0).rows, 2);
  EXPECT_EQ(plan.Batch(1).rows, 2);
  EXPECT_EQ(plan.Batch(2).rows, 1);
}

TEST(EpochPlan, PaddingIsOnTheRightWithPadIdsAndIgnoredLabels) {
  const std::vector<TokenizedExample> examples = Examples({2, 5, 3});
  BatchingOptions options = Options(3, 16);
  options.pad_id = 7;
  const TrainingBatch batch = Plan(examples, options).Batch(0);
  ASSERT_EQ(batch.rows, 3);
  ASSERT_EQ(batch.columns, 5);
  EXPECT_EQ(batch.tokens, 10);
  EXPECT_TRUE(batch.position_ids.empty());
  EXPECT_TRUE(batch.document_ids.empty());
  for (int64_t r = 0; r < batch.rows; ++r) {
    const int32_t k = ExampleOf(At(batch.input_ids, batch, r, 0));
    const auto length = static_cast<int64_t>(examples[static_cast<size_t>(k)].input_ids.size());
    for (int64_t c = 0; c < batch.columns; ++c) {
      EXPECT_EQ(At(batch.input_ids, batch, r, c), c < length ? Id(k, c) : 7) << "row " << r << ", column " << c;
      EXPECT_EQ(At(batch.labels, batch, r, c), c < length ? Id(k, c) : kIgnoredLabel) << "row " << r << ", column " << c;
    }
  }
}

TEST(EpochPlan, PackedDocumentsRestartPositionsAndMaskTheirFirstToken) {
  const std::vector<TokenizedExample> examples = Examples({3, 2});
  const TrainingBatch batch = Plan(examples, Options(1, 8, /*packing=*/true)).Batch(0);
  ASSERT_EQ(batch.rows, 1);
  ASSERT_EQ(batch.columns, 5);
  const int32_t first = ExampleOf(batch.input_ids[0]);
  const int32_t second = 1 - first;
  const int64_t first_length = first == 0 ? 3 : 2;
  std::vector<int64_t> ids, labels, positions, documents;
  for (int64_t i = 0; i < 5; ++i) {
    const bool in_first = i < first_length;
    const int64_t position = in_first ? i : i - first_length;
    const int32_t id = Id(in_first ? first : second, position);
    ids.push_back(id);
    labels.push_back(position == 0 ? kIgnoredLabel : id);
    positions.push_back(position);
    documents.push_back(in_first ? 0 : 1);
  }
  EXPECT_EQ(batch.input_ids, ids);
  EXPECT_EQ(batch.labels, labels);
  EXPECT_EQ(batch.position_ids, positions);
  EXPECT_EQ(batch.document_ids, documents);
  EXPECT_EQ(batch.tokens, 5);
  EXPECT_EQ(batch.predicted_tokens, 3);
}

TEST(EpochPlan, PackedPaddingCountsPositionsFromZeroAsADocumentOfItsOwn) {
  // Whatever the layout, two of the documents share a row and the third is alone in a shorter one.
  const std::vector<TokenizedExample> examples = Examples({5, 4, 3});
  BatchingOptions options = Options(2, 9, /*packing=*/true);
  options.pad_id = 7;
  const TrainingBatch batch = Plan(examples, options).Batch(0);
  ASSERT_EQ(batch.rows, 2);
  int64_t pads = 0;
  for (int64_t r = 0; r < batch.rows; ++r) {
    int64_t length = 0;
    while (length < batch.columns && At(batch.input_ids, batch, r, length) != 7) ++length;
    for (int64_t c = length; c < batch.columns; ++c) {
      EXPECT_EQ(At(batch.input_ids, batch, r, c), 7);
      EXPECT_EQ(At(batch.labels, batch, r, c), kIgnoredLabel);
      EXPECT_EQ(At(batch.position_ids, batch, r, c), c - length);
      EXPECT_EQ(At(batch.document_ids, batch, r, c), kPaddingDocumentId);
      ++pads;
    }
  }
  EXPECT_GT(pads, 0);
  EXPECT_EQ(batch.tokens, 12);
  EXPECT_EQ(batch.rows * batch.columns, batch.tokens + pads);
}

TEST(EpochPlan, PackedRowsNeverExceedMaxLengthAndFillGreedily) {
  // Documents of 3 tokens in rows of 10: three to a row, the last row holding the one left.
  const std::vector<TokenizedExample> equal = Examples(std::vector<int64_t>(10, 3));
  std::map<size_t, int> rows_by_documents;
  for (const TrainingBatch& batch : Batches(Plan(equal, Options(1, 10, /*packing=*/true)))) {
    ++rows_by_documents[RowExamples(batch)[0].size()];
  }
  EXPECT_EQ(rows_by_documents, (std::map<size_t, int>{{1, 1}, {3, 3}}));

  // Whatever the lengths, a row that is closed could not take the next document, so any two
  // consecutive rows hold more than max_length tokens: fewer than 2 * tokens / max_length + 1 rows.
  const std::vector<TokenizedExample> varied = Examples(VariedLengths(40));
  const EpochPlan plan = Plan(varied, Options(1, 12, /*packing=*/true));
  for (const TrainingBatch& batch : Batches(plan)) EXPECT_LE(batch.columns, 12);
  EXPECT_LT(plan.size() * 12, 2 * plan.tokens() + 12);
}

TEST(EpochPlan, EveryEpochHasAsManyBatchesAndTokens) {
  const std::vector<TokenizedExample> examples = Examples(VariedLengths(37));
  for (bool packing : {false, true}) {
    const BatchingOptions options = Options(3, 12, packing);
    common::Result<int64_t> per_epoch = MicroBatchesPerEpoch(examples, options);
    ASSERT_TRUE(per_epoch.ok());
    const int64_t tokens = Plan(examples, options, 0).tokens();
    for (int64_t epoch = 0; epoch < 5; ++epoch) {
      const EpochPlan plan = Plan(examples, options, epoch);
      EXPECT_EQ(plan.size(), *per_epoch);
      EXPECT_EQ(plan.tokens(), tokens);
      int64_t batch_tokens = 0;
      for (const TrainingBatch& batch : Batches(plan)) batch_tokens += batch.tokens;
      EXPECT_EQ(batch_tokens, tokens);
    }
  }
}

TEST(EpochPlan, PredictedTokensCountLabelsAfterEachRowsFirstPosition) {
  // 6 tokens, the first 2 masked: positions 2..5 predicted.
  const std::vector<TokenizedExample> masked = {Example(0, 6, 2)};
  EXPECT_EQ(Plan(masked, Options(1, 16)).Batch(0).predicted_tokens, 4);
  // Every label trained: position 0 still predicts nothing.
  const std::vector<TokenizedExample> trained = Examples({4, 3});
  EXPECT_EQ(Plan(trained, Options(2, 16)).Batch(0).predicted_tokens, 3 + 2);
  // Packed, each document's first token is masked too.
  EXPECT_EQ(Plan(trained, Options(1, 16, /*packing=*/true)).Batch(0).predicted_tokens, 3 + 2);
}

TEST(EpochPlan, TruncatesExamplesToMaxLength) {
  const std::vector<TokenizedExample> examples = Examples({10});
  for (bool packing : {false, true}) {
    const EpochPlan plan = Plan(examples, Options(1, 4, packing));
    const TrainingBatch batch = plan.Batch(0);
    EXPECT_EQ(batch.columns, 4);
    EXPECT_EQ(batch.input_ids, (std::vector<int64_t>{Id(0, 0), Id(0, 1), Id(0, 2), Id(0, 3)}));
    EXPECT_EQ(plan.tokens(), 4);
    EXPECT_EQ(batch.predicted_tokens, 3);
  }
}

TEST(EpochPlan, SkipsExamplesWithNothingToTrain) {
  std::vector<TokenizedExample> examples = Examples({4, 4});
  examples.push_back(Example(2, 4, /*masked=*/4));  // no label at all
  examples.push_back(Example(3, 4, /*masked=*/0));
  examples.back().labels = {Id(3, 0), kIgnoredLabel, kIgnoredLabel, kIgnoredLabel};  // only position 0
  examples.push_back(Example(4, 8, /*masked=*/5));  // trained only past max_length
  examples.push_back(Example(5, 1));                // one token predicts nothing
  for (bool packing : {false, true}) {
    const EpochPlan plan = Plan(examples, Options(1, 5, packing));
    EXPECT_EQ(plan.skipped(), 4);
    EXPECT_EQ(Sorted(EpochOrder(plan)), (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(plan.tokens(), 8);
  }
}

TEST(EpochPlan, AnEmptyDatasetHasNoBatches) {
  const EpochPlan plan = Plan({}, Options(2, 16, /*packing=*/true));
  EXPECT_EQ(plan.size(), 0);
  EXPECT_EQ(plan.tokens(), 0);
}

TEST(EpochPlan, InvalidOptionsAreErrorsNamingTheOption) {
  const std::vector<TokenizedExample> examples = Examples({4});
  EXPECT_EQ(CreateError(examples, Options(0, 16)), "micro_batch_size must be at least 1, got 0");
  EXPECT_EQ(CreateError(examples, Options(2, 1)), "max_length must be at least 2, got 1");
  EXPECT_EQ(CreateError(examples, Options(2, 16), -1), "epoch must not be negative, got -1");
  common::Result<int64_t> per_epoch = MicroBatchesPerEpoch(examples, Options(-3, 16));
  ASSERT_FALSE(per_epoch.ok());
  EXPECT_NE(per_epoch.status().message().find("micro_batch_size"), std::string::npos);
}

TEST(EpochPlan, ExamplesWithMoreIdsThanLabelsAreErrorsNamingTheExample) {
  std::vector<TokenizedExample> examples = Examples({4, 4});
  examples[1].labels.pop_back();
  EXPECT_EQ(CreateError(examples, Options(2, 16)), "example 2: 4 input_ids but 3 labels");
}

std::vector<int32_t> FirstIds(const std::vector<TokenizedExample>& examples) {
  std::vector<int32_t> ids;
  for (const TokenizedExample& example : examples) ids.push_back(ExampleOf(example.input_ids[0]));
  return ids;
}

TEST(SplitValidation, TakesTheRoundedFractionAndKeepsFileOrder) {
  const DataSplit split = SplitValidation(Examples(VariedLengths(20)), 0.23, 42);
  ASSERT_EQ(split.validation.size(), 5u);
  ASSERT_EQ(split.train.size(), 15u);
  const std::vector<int32_t> validation = FirstIds(split.validation);
  const std::vector<int32_t> train = FirstIds(split.train);
  EXPECT_TRUE(std::is_sorted(validation.begin(), validation.end()));
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  std::vector<int32_t> all = validation;
  all.insert(all.end(), train.begin(), train.end());
  EXPECT_EQ(Sorted(all), Range(20));
}

TEST(SplitValidation, TakesAtLeastOneExampleButNeverAll) {
  EXPECT_EQ(SplitValidation(Examples({3, 3}), 0.01, 42).validation.size(), 1u);
  EXPECT_EQ(SplitValidation(Examples({3, 3, 3}), 1.0, 42).validation.size(), 2u);
  EXPECT_EQ(SplitValidation(Examples({3}), 0.5, 42).validation.size(), 0u);
  EXPECT_EQ(SplitValidation(Examples({3, 3, 3}), 0.0, 42).validation.size(), 0u);
  EXPECT_EQ(SplitValidation({}, 0.5, 42).validation.size(), 0u);
}

TEST(SplitValidation, TheSameSeedGivesTheSameSplitAndAnotherSeedAnother) {
  const std::vector<TokenizedExample> examples = Examples(VariedLengths(40));
  const std::vector<int32_t> split = FirstIds(SplitValidation(examples, 0.25, 42).validation);
  EXPECT_EQ(FirstIds(SplitValidation(examples, 0.25, 42).validation), split);
  EXPECT_NE(FirstIds(SplitValidation(examples, 0.25, 43).validation), split);
}

// Pinned like the epoch order: a resumed run must hold out the same examples.
TEST(SplitValidation, TheSplitOfASeedIsFixed) {
  EXPECT_EQ(FirstIds(SplitValidation(Examples(VariedLengths(10)), 0.3, 42).validation),
            (std::vector<int32_t>{2, 3, 9}));
}

}  // namespace
}  // namespace gradients::text
