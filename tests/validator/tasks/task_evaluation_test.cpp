// The evaluating step with the real `gradients eval` in limited child processes, over a real data
// directory: verdicts, duplicates, missing uploads, ranks and points, reproducible losses.
#include "validator/tasks/task_evaluation.h"

#include <cmath>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/safetensors.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/validator/scripted_miner.h"
#include "validator/market/offer_rounds.h"
#include "validator/rpc/admin_service.h"
#include "validator/state/data_directory.h"
#include "validator/state/registry.h"
#include "validator/tasks/task_preparation.h"

namespace gradients::validator {
namespace {

const std::filesystem::path kData = GRADIENTS_TEST_DATA_DIR;

class TaskEvaluation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    testing::ProcessResult init =
        testing::RunProcess({GRADIENTS_CLI_PATH, "init-model", "--preset", "tiny", "--out", (*dir_ / "base").string(),
                             "--tokenizer", (kData / "models/tokenizer_sp512/tokenizer.model").string(), "--seed", "5"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    data_ = std::move(*OpenDataDirectory(work_ / "validator"));
    model_ = *RegisterModel(*data_.store, *data_.blobs, *dir_ / "base", "tiny", 1);
    std::string rows;
    for (int i = 0; i < 40; ++i) {
      rows += "{\"question\": \"what is " + std::to_string(i) + " plus 2\", \"answer\": \"" + std::to_string(i + 2) +
              "\"}\n";
    }
    std::ofstream(work_ / "qa.jsonl") << rows;
    dataset_ = *RegisterDataset(*data_.store, *data_.blobs, work_ / "qa.jsonl", "qa", 1);
    options_.gradients_path = GRADIENTS_CLI_PATH;
    options_.work_dir = work_ / "eval";
    options_.timeout_ms = 120'000;
  }

  // A task whose deadline passed, claimed by `miners`; `uploads` maps a miner to its files.
  void TaskAfterDeadline(const std::string& id, const std::vector<std::string>& miners,
                         const std::map<std::string, std::map<std::string, std::string>>& uploads) {
    ASSERT_TRUE(data_.store
                    ->CreateTask({.id = id, .type = "instruct", .model_hash = model_.hash,
                                  .dataset_hash = dataset_.hash,
                                  .columns = {.columns = {{"instruction", "question"}, {"output", "answer"}}},
                                  .duration_s = 600, .pool_size = 8, .created_at_ms = 1000, .updated_at_ms = 1000})
                    .ok());
    ASSERT_TRUE(PrepareTask(*data_.store, *data_.store, *data_.blobs, id, 2000, 60'000).ok());
    for (const std::string& miner : miners) ASSERT_TRUE(data_.store->ClaimTask(id, miner, "nonce", 3000).ok());
    int64_t received = 4000;
    for (const auto& [miner, files] : uploads) {
      SubmissionRecord submission{.task_id = id, .miner = miner, .receipt_id = "r-" + id + "-" + miner,
                                  .manifest = {.kind = common::CheckpointKind::kLoraAdapter, .files = {}},
                                  .manifest_digest = {}, .file_blobs = {}, .received_at_ms = received};
      for (const auto& [name, content] : files) {
        const StoredBlob blob = *data_.blobs->Put(content);
        submission.manifest.files.push_back({.path = name, .size_bytes = content.size(), .algorithm = {},
                                             .digest = common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, content)});
        submission.file_blobs.push_back(blob.hash);
      }
      submission.manifest_digest = common::ToHex(common::CheckpointManifestDigest(submission.manifest));
      ASSERT_TRUE(data_.store->RecordSubmission(submission, received).ok());
      received += 1000;
    }
    ASSERT_TRUE(CloseOfferWindows(*data_.store, *data_.store, OfferOptions{}, 2000 + 60'000).ok());  // training now
    ASSERT_TRUE(StartEvaluations(*data_.store, 2000 + 10 * 60'000).ok());
    ASSERT_EQ(data_.store->GetTask(id)->status, TaskStatus::kTraining);  // not past the deadline yet
    ASSERT_TRUE(StartEvaluations(*data_.store, 2000 + 10 * 60'000 + 1).ok());
    ASSERT_EQ(data_.store->GetTask(id)->status, TaskStatus::kEvaluating);
  }
  common::Status Evaluate(const std::string& id, const std::atomic<bool>* cancel = nullptr) {
    return EvaluateTask(
        *data_.store, *data_.store, *data_.store, *data_.store, *data_.store, *data_.blobs, options_, ScoringOptions{},
        id, [] { return int64_t{9'000'000}; }, cancel);
  }
  std::map<std::string, EvaluationRecord> Evaluations(const std::string& id) {
    std::map<std::string, EvaluationRecord> out;
    common::Result<std::vector<EvaluationRecord>> evaluations = data_.store->ListEvaluations(id);
    EXPECT_TRUE(evaluations.ok());
    if (evaluations.ok()) {
      for (const EvaluationRecord& evaluation : *evaluations) out[evaluation.miner] = evaluation;
    }
    return out;
  }

  static testing::TempDir* dir_;
  testing::TempDir work_;
  DataDirectory data_;
  ModelRecord model_;
  DatasetRecord dataset_;
  EvaluationOptions options_;
};
testing::TempDir* TaskEvaluation::dir_ = nullptr;

TEST_F(TaskEvaluation, EveryClaimGetsItsVerdictAndTheLowestLossWins) {
  std::map<std::string, std::string> garbage = TinyLoraAdapter(0.05f, 0.05f);
  garbage["adapter_model.safetensors"] = std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{\"", 10);
  TaskAfterDeadline("t1", {"a-good", "b-better", "c-copy", "d-nan", "e-untrained", "f-absent", "g-garbage"},
                    {{"a-good", TinyLoraAdapter(0.05f, 0.05f)},
                     {"b-better", TinyLoraAdapter(0.01f, 0.01f)},
                     {"c-copy", TinyLoraAdapter(0.05f, 0.05f)},  // uploaded after a-good's identical files
                     {"d-nan", TinyLoraAdapter(std::nanf(""), 0.1f)},
                     {"e-untrained", TinyLoraAdapter(0.1f, 0.0f)},
                     {"g-garbage", garbage}});
  common::Status status = Evaluate("t1");
  ASSERT_TRUE(status.ok()) << status.message();
  const TaskRecord task = *data_.store->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kScored);
  EXPECT_EQ(task.scored_at_ms, 9'000'000);

  std::map<std::string, EvaluationRecord> evaluations = Evaluations("t1");
  ASSERT_EQ(evaluations.size(), 7u);
  EXPECT_EQ(evaluations["g-garbage"].outcome, EvaluationOutcome::kInvalid);  // a malformed safetensors header
  EXPECT_FALSE(evaluations["g-garbage"].reason.empty());
  EXPECT_EQ(evaluations["a-good"].outcome, EvaluationOutcome::kScored);
  EXPECT_EQ(evaluations["b-better"].outcome, EvaluationOutcome::kScored);
  ASSERT_TRUE(evaluations["a-good"].test_loss && evaluations["b-better"].test_loss);
  EXPECT_GT(evaluations["a-good"].tokens, 0);
  const bool a_wins = *evaluations["a-good"].test_loss < *evaluations["b-better"].test_loss;
  EXPECT_EQ(evaluations[a_wins ? "a-good" : "b-better"].rank, 1);
  EXPECT_EQ(evaluations[a_wins ? "a-good" : "b-better"].points, 3);
  EXPECT_EQ(evaluations[a_wins ? "b-better" : "a-good"].rank, 2);
  EXPECT_EQ(evaluations[a_wins ? "b-better" : "a-good"].points, 0);
  EXPECT_EQ(evaluations["c-copy"].outcome, EvaluationOutcome::kDuplicate);
  EXPECT_EQ(evaluations["d-nan"].outcome, EvaluationOutcome::kInvalid);
  EXPECT_NE(evaluations["d-nan"].reason.find("NaN"), std::string::npos) << evaluations["d-nan"].reason;
  EXPECT_EQ(evaluations["e-untrained"].outcome, EvaluationOutcome::kNotFinetuned);
  EXPECT_EQ(evaluations["f-absent"].outcome, EvaluationOutcome::kMissing);
  for (const char* loser : {"c-copy", "d-nan", "e-untrained", "f-absent", "g-garbage"}) {
    EXPECT_EQ(evaluations[loser].points, -1) << loser;
    EXPECT_EQ(evaluations[loser].rank, 0) << loser;
  }
  // Each verdict names its inputs.
  EXPECT_EQ(evaluations["a-good"].model_hash, model_.hash);
  EXPECT_EQ(evaluations["a-good"].test_blob, task.test_blob);
  EXPECT_EQ(evaluations["a-good"].split_seed, dataset_.split_seed);
  EXPECT_TRUE(evaluations["a-good"].evaluator.starts_with("gradients-eval/")) << evaluations["a-good"].evaluator;
  EXPECT_FALSE(std::filesystem::exists(options_.work_dir / common::ToHex(std::span(reinterpret_cast<const uint8_t*>("t1"), 2))));
}

TEST_F(TaskEvaluation, TheOperatorSeesEveryClaimAndEveryVerdictRankedFirst) {
  const std::string winner = common::SigningKey::Generate().public_key().ToHex();
  const std::string loser = common::SigningKey::Generate().public_key().ToHex();
  const std::string absent = common::SigningKey::Generate().public_key().ToHex();
  TaskAfterDeadline("t1", {absent, loser, winner},
                    {{loser, TinyLoraAdapter(0.3f, 0.3f)}, {winner, TinyLoraAdapter(0.01f, 0.01f)}});
  ASSERT_TRUE(data_.store->RecordProgress("t1", winner, R"({"step": "7", "trainLoss": 1.25})", 5000, 1000).ok());
  AdminService admin(*data_.store, *data_.blobs, AdminServiceOptions{.validator_id = "v", .version = "0", .token = std::nullopt}, [] { return int64_t{1}; });
  v1::GetTaskRequest request;
  request.set_task_id("t1");
  v1::GetTaskResponse before;
  grpc::ServerContext context;
  ASSERT_TRUE(admin.GetTask(&context, &request, &before).ok());
  ASSERT_EQ(before.assignments_size(), 3);
  EXPECT_EQ(before.assignments(2).last_progress().step(), 7u);
  EXPECT_EQ(before.assignments(2).last_progress().train_loss(), 1.25);
  EXPECT_EQ(before.submissions_size(), 2);  // the uploads, evaluating; the absent miner has nothing yet
  EXPECT_EQ(before.submissions(0).status(), v1::SUBMISSION_STATUS_EVALUATING);
  EXPECT_EQ(before.task().submissions(), 2u);

  ASSERT_TRUE(Evaluate("t1").ok());
  v1::GetTaskResponse after;
  ASSERT_TRUE(admin.GetTask(&context, &request, &after).ok());
  ASSERT_EQ(after.submissions_size(), 3);
  EXPECT_EQ(after.submissions(0).rank(), 1u);
  EXPECT_EQ(after.submissions(0).points(), 3);
  EXPECT_TRUE(after.submissions(0).has_test_loss());
  EXPECT_EQ(after.submissions(1).rank(), 2u);
  EXPECT_EQ(after.submissions(2).status(), v1::SUBMISSION_STATUS_MISSING);
  EXPECT_EQ(after.submissions(2).points(), -1);
  EXPECT_EQ(after.task().status(), v1::TASK_STATUS_SCORED);
}

TEST_F(TaskEvaluation, AnInterruptedEvaluationResumesAndTheSameInputsGiveTheSameLossBitForBit) {
  TaskAfterDeadline("t1", {"a"}, {{"a", TinyLoraAdapter(0.05f, 0.05f)}});
  const std::atomic<bool> stop{true};
  EXPECT_EQ(Evaluate("t1", &stop).code(), common::StatusCode::kAborted);  // the validator stopping
  EXPECT_TRUE(Evaluations("t1").empty());
  EXPECT_EQ(data_.store->GetTask("t1")->status, TaskStatus::kEvaluating);
  ASSERT_TRUE(Evaluate("t1").ok());

  TaskAfterDeadline("t2", {"a"}, {{"a", TinyLoraAdapter(0.05f, 0.05f)}});
  ASSERT_TRUE(Evaluate("t2").ok());
  const double first = *Evaluations("t1")["a"].test_loss, second = *Evaluations("t2")["a"].test_loss;
  EXPECT_EQ(std::memcmp(&first, &second, sizeof first), 0) << first << " vs " << second;
}

TEST_F(TaskEvaluation, AnEvaluatorThatCannotRunLeavesTheTaskEvaluating) {
  TaskAfterDeadline("t1", {"a"}, {{"a", TinyLoraAdapter(0.05f, 0.05f)}});
  options_.gradients_path = (work_ / "no-such-gradients").string();
  EXPECT_EQ(Evaluate("t1").code(), common::StatusCode::kUnavailable);
  EXPECT_EQ(data_.store->GetTask("t1")->status, TaskStatus::kEvaluating);
}

TEST_F(TaskEvaluation, ABaseModelThatCannotBeEvaluatedWithinTheLimitsIsTheTasksFaultNotTheMiners) {
  TaskAfterDeadline("t1", {"a", "b"}, {{"a", TinyLoraAdapter(0.05f, 0.05f)}, {"b", TinyLoraAdapter(0.01f, 0.01f)}});
  options_.timeout_ms = 20;  // far too little to even load libtorch
  common::Status status = Evaluate("t1");
  EXPECT_EQ(status.code(), common::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "the base model cannot be evaluated on the test split within the limits: timed out");
  EXPECT_TRUE(Evaluations("t1").empty());  // nobody was judged
}

TEST_F(TaskEvaluation, AnEvaluationThatCrashesFailsThatSubmissionOnly) {
  TaskAfterDeadline("t1", {"a", "b"}, {{"a", TinyLoraAdapter(0.05f, 0.05f)}, {"b", TinyLoraAdapter(0.01f, 0.01f)}});
  // An evaluator that evaluates the base and dies on a's checkpoint, as a hostile file could make it.
  const std::filesystem::path evaluator = work_ / "evaluator.sh";
  std::ofstream(evaluator) << "#!/bin/sh\n"
                              "case \"$*\" in\n"
                              "  *r-t1-a*) kill -SEGV $$ ;;\n"
                              "  *--submission*) echo '{\"status\": \"scored\", \"loss\": 1.5, \"tokens\": 9}' ;;\n"
                              "  *) echo '{\"loss\": 2.0, \"tokens\": 9, \"documents\": 4}' ;;\n"
                              "esac\n";
  std::filesystem::permissions(evaluator, std::filesystem::perms::owner_all);
  options_.gradients_path = evaluator.string();
  ASSERT_TRUE(Evaluate("t1").ok());
  std::map<std::string, EvaluationRecord> evaluations = Evaluations("t1");
  EXPECT_EQ(evaluations["a"].outcome, EvaluationOutcome::kFailed);
  EXPECT_EQ(evaluations["a"].reason, "evaluation crashed (signal 11)");
  EXPECT_EQ(evaluations["a"].points, -1);
  EXPECT_EQ(evaluations["b"].outcome, EvaluationOutcome::kScored);
  EXPECT_EQ(evaluations["b"].test_loss, 1.5);
  EXPECT_EQ(evaluations["b"].points, 3);
  EXPECT_EQ(data_.store->GetTask("t1")->status, TaskStatus::kScored);
}

}  // namespace
}  // namespace gradients::validator
