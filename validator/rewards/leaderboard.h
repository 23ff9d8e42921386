// Miners ranked by what they earned over a time window (Admin GetLeaderboard): their points
// weighted by each task's work, the quantity the reward weights are made from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "validator/rewards/scoring.h"

namespace gradients::validator {

struct LeaderboardEntry {
  std::string miner;
  double score = 0;   // points times work, summed
  double points = 0;  // points, summed
  int64_t tasks_scored = 0;
  int64_t first_places = 0;
  friend bool operator==(const LeaderboardEntry&, const LeaderboardEntry&) = default;
};

// Best score first (then more points, then the miner's key); only tasks of `type` when it is not
// empty.
std::vector<LeaderboardEntry> RankMiners(const std::vector<ScoredTask>& tasks, const std::string& type);

}  // namespace gradients::validator
