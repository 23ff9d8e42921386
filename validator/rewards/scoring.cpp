#include "validator/rewards/scoring.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace gradients::validator {

namespace {

constexpr int64_t kDayMs = 86'400'000;

bool Ranked(const SubmissionResult& submission) {
  return submission.outcome == EvaluationOutcome::kScored && std::isfinite(submission.test_loss);
}

double TypeWeight(const ScoringOptions& options, const std::string& type) {
  auto found = options.type_weights.find(type);
  return found == options.type_weights.end() ? 0.0 : found->second;
}

}  // namespace

std::vector<MinerPoints> ScoreTask(const std::vector<SubmissionResult>& submissions, const ScoringOptions& options) {
  std::vector<const SubmissionResult*> order;
  for (const SubmissionResult& submission : submissions) order.push_back(&submission);
  std::sort(order.begin(), order.end(), [](const SubmissionResult* a, const SubmissionResult* b) {
    const bool a_ranked = Ranked(*a), b_ranked = Ranked(*b);
    if (a_ranked != b_ranked) return a_ranked;
    if (!a_ranked) return a->miner < b->miner;
    return std::tie(a->test_loss, a->received_at_ms, a->miner) < std::tie(b->test_loss, b->received_at_ms, b->miner);
  });
  std::vector<MinerPoints> points;
  int64_t rank = 0;
  for (const SubmissionResult* submission : order) {
    if (!Ranked(*submission)) {
      points.push_back({.miner = submission->miner, .points = options.penalty_points, .rank = 0});
      continue;
    }
    ++rank;
    points.push_back({.miner = submission->miner,
                      .points = rank == 1 ? options.first_place_points : options.other_points,
                      .rank = rank});
  }
  return points;
}

int64_t LongestWindowMs(const ScoringOptions& options) {
  int64_t days = 0;
  for (const WeightWindow& window : options.windows) days = std::max(days, window.days);
  return days * kDayMs;
}

std::map<std::string, double> ComputeWeights(const std::vector<ScoredTask>& tasks, int64_t now_ms,
                                             const ScoringOptions& options) {
  std::map<std::string, double> combined;
  for (const WeightWindow& window : options.windows) {
    const int64_t since = now_ms - window.days * kDayMs;
    auto in_window = [&](const ScoredTask& task) {
      return task.scored_at_ms > since && task.scored_at_ms <= now_ms && !task.points.empty();
    };
    double total_work = 0;
    for (const ScoredTask& task : tasks) {
      if (in_window(task)) total_work += task.work * TypeWeight(options, task.type);
    }
    if (total_work <= 0) continue;
    for (const ScoredTask& task : tasks) {
      const double work = task.work * TypeWeight(options, task.type);
      if (!in_window(task) || work <= 0) continue;  // a type that counts for nothing makes no candidates
      for (const MinerPoints& entry : task.points) {
        combined[entry.miner] += window.weight * entry.points * work / total_work;
      }
    }
  }
  // Only a positive combined score earns weight: claiming tasks and never delivering must not pay.
  std::map<std::string, double> weights;
  double sum = 0;
  for (const auto& [miner, score] : combined) {
    const double squashed = score > 0 ? 1.0 / (1.0 + std::exp(-options.sigmoid_steepness * score)) : 0.0;
    weights[miner] = squashed;
    sum += squashed;
  }
  if (sum <= 0) return {};
  for (auto& [miner, weight] : weights) weight /= sum;
  return weights;
}

}  // namespace gradients::validator
