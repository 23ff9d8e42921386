#include "validator/rewards/leaderboard.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace gradients::validator {

std::vector<LeaderboardEntry> RankMiners(const std::vector<ScoredTask>& tasks, const std::string& type) {
  std::map<std::string, LeaderboardEntry> by_miner;
  for (const ScoredTask& task : tasks) {
    if (!type.empty() && task.type != type) continue;
    for (const MinerPoints& entry : task.points) {
      LeaderboardEntry& miner = by_miner[entry.miner];
      miner.miner = entry.miner;
      miner.score += entry.points * task.work;
      miner.points += entry.points;
      ++miner.tasks_scored;
      miner.first_places += entry.rank == 1;
    }
  }
  std::vector<LeaderboardEntry> ranked;
  for (auto& [miner, entry] : by_miner) ranked.push_back(std::move(entry));
  std::sort(ranked.begin(), ranked.end(), [](const LeaderboardEntry& a, const LeaderboardEntry& b) {
    return std::tie(b.score, b.points, a.miner) < std::tie(a.score, a.points, b.miner);
  });
  return ranked;
}

}  // namespace gradients::validator
