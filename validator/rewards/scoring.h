// Scores and reward weights (DESIGN.md, Evaluation and scoring). Per task: submissions ranked by
// test loss, first place gets points, failures cost points. Across tasks: points weighted by each
// task's work (model size x training time) and type, averaged over time windows, squashed by a
// sigmoid and normalised into weights that sum to 1. Pure functions of their inputs, evaluated in a
// fixed order: the same inputs give the same bits, so anyone holding the inputs (the audit log)
// recomputes the published weights exactly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "validator/state/evaluation_outcome.h"

namespace gradients::validator {

struct SubmissionResult {
  std::string miner;  // public key, hex
  EvaluationOutcome outcome = EvaluationOutcome::kMissing;
  double test_loss = 0;         // for kScored; a non-finite loss counts as invalid
  int64_t received_at_ms = 0;   // equal losses: the earlier upload ranks first
};

struct WeightWindow {
  int64_t days = 1;
  double weight = 1;
};

struct ScoringOptions {
  double first_place_points = 3;
  double other_points = 0;     // evaluated, not first
  double penalty_points = -1;  // invalid, not fine-tuned, duplicate, failed or missing
  std::vector<WeightWindow> windows = {{1, 0.3}, {3, 0.3}, {7, 0.4}};
  // A task type's share of the weights; a type not listed counts for nothing.
  std::map<std::string, double> type_weights = {{"instruct", 1.0}, {"chat", 1.0}, {"text", 1.0}};
  double sigmoid_steepness = 1.0;  // how sharply a miner's combined score separates its weight
};

struct MinerPoints {
  std::string miner;
  double points = 0;
  int64_t rank = 0;  // 1-based among evaluated submissions with a finite loss; 0 for the others
  friend bool operator==(const MinerPoints&, const MinerPoints&) = default;
};

// One entry per submission, best first (then the unranked, by miner).
std::vector<MinerPoints> ScoreTask(const std::vector<SubmissionResult>& submissions, const ScoringOptions& options);

struct ScoredTask {
  std::string task_id;
  std::string type;
  int64_t scored_at_ms = 0;
  double work = 0;  // base model parameters (billions) x training hours
  std::vector<MinerPoints> points;
};

// The longest of the windows, in milliseconds: how far back scores count.
int64_t LongestWindowMs(const ScoringOptions& options);

// Each miner's weight, summing to 1; empty when no miner of a counted task (in a window, of a
// weighted type, with work) has a positive score. For each window, a miner's score is its points
// times each task's work and type weight, over the window's total weighted work; the windows'
// scores are combined with their weights; a positive combined score passes through a sigmoid, zero
// or less earns nothing (weight 0); then the weights are normalised.
std::map<std::string, double> ComputeWeights(const std::vector<ScoredTask>& tasks, int64_t now_ms,
                                             const ScoringOptions& options);

}  // namespace gradients::validator
