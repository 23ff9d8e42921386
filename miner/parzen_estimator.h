// The density model of the tpe strategy (Bergstra et al., "Algorithms for Hyper-Parameter
// Optimization", 2011): for each dimension of the search space independently, a Parzen window —
// Gaussian kernels on the observed points of [0, 1] (the dimension's unit scale) mixed with a
// uniform prior — or, for a categorical dimension, the choices' smoothed frequencies.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "miner/search_space.h"

namespace gradients::miner {

class ParzenEstimator {
 public:
  ParzenEstimator(const SearchSpace& space, const std::vector<nlohmann::json>& observations);

  nlohmann::json Sample(SearchRandom& random) const;
  double LogDensity(const nlohmann::json& assignment) const;

 private:
  struct Dimension {
    const SearchDimension* space;
    std::vector<double> points;         // range: observed units
    double bandwidth = 1;               // range: the kernels' standard deviation
    std::vector<double> probabilities;  // categorical: per choice
  };
  std::vector<Dimension> dimensions_;
};

}  // namespace gradients::miner
