#include "miner/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gradients::miner {
namespace {

size_t ChoiceIndex(const SearchDimension& dimension, const nlohmann::json& value) {
  const auto found = std::find(dimension.choices.begin(), dimension.choices.end(), value);
  return found == dimension.choices.end() ? 0 : static_cast<size_t>(found - dimension.choices.begin());
}

double NormalDensity(double x, double mean, double sigma) {
  const double z = (x - mean) / sigma;
  return std::exp(-0.5 * z * z) / (sigma * std::sqrt(2.0 * M_PI));
}

}  // namespace

ParzenEstimator::ParzenEstimator(const SearchSpace& space, const std::vector<nlohmann::json>& observations) {
  const double n = static_cast<double>(observations.size());
  for (const SearchDimension& searched : space.dimensions) {
    Dimension dimension{.space = &searched, .points = {}, .bandwidth = 1, .probabilities = {}};
    if (searched.categorical()) {
      // One prior count per choice keeps every choice possible.
      dimension.probabilities.assign(searched.choices.size(), 1.0);
      for (const nlohmann::json& observation : observations) {
        dimension.probabilities[ChoiceIndex(searched, observation.at(searched.name))] += 1.0;
      }
      const double total = std::accumulate(dimension.probabilities.begin(), dimension.probabilities.end(), 0.0);
      for (double& p : dimension.probabilities) p /= total;
    } else {
      for (const nlohmann::json& observation : observations) {
        dimension.points.push_back(searched.UnitOf(observation.at(searched.name)));
      }
      // Scott's rule on the unit interval, kept between a sharp and a flat kernel.
      double mean = 0, variance = 0;
      for (double p : dimension.points) mean += p / std::max(1.0, n);
      for (double p : dimension.points) variance += (p - mean) * (p - mean) / std::max(1.0, n);
      dimension.bandwidth = std::clamp(1.06 * std::sqrt(variance) * std::pow(std::max(1.0, n), -0.2), 0.05, 0.5);
    }
    dimensions_.push_back(std::move(dimension));
  }
}

nlohmann::json ParzenEstimator::Sample(SearchRandom& random) const {
  nlohmann::json assignment = nlohmann::json::object();
  for (const Dimension& dimension : dimensions_) {
    const SearchDimension& searched = *dimension.space;
    if (searched.categorical()) {
      double draw = random.Uniform();
      size_t index = 0;
      while (index + 1 < dimension.probabilities.size() && draw >= dimension.probabilities[index]) {
        draw -= dimension.probabilities[index++];
      }
      assignment[searched.name] = searched.choices[index];
      continue;
    }
    // The prior is one more component among the kernels.
    const size_t component = static_cast<size_t>(random.Uniform() * static_cast<double>(dimension.points.size() + 1));
    double unit = 0;
    if (component >= dimension.points.size()) {
      unit = random.Uniform();
    } else {
      unit = dimension.points[component] + dimension.bandwidth * random.Normal();
      if (unit < 0) unit = -unit;  // reflected into [0, 1]
      if (unit > 1) unit = 2 - unit;
    }
    assignment[searched.name] = searched.ValueAt(unit);
  }
  return assignment;
}

double ParzenEstimator::LogDensity(const nlohmann::json& assignment) const {
  double log_density = 0;
  for (const Dimension& dimension : dimensions_) {
    const SearchDimension& searched = *dimension.space;
    const nlohmann::json& value = assignment.at(searched.name);
    if (searched.categorical()) {
      log_density += std::log(dimension.probabilities[ChoiceIndex(searched, value)]);
      continue;
    }
    const double unit = searched.UnitOf(value);
    double density = 1.0;  // the uniform prior
    for (double point : dimension.points) density += NormalDensity(unit, point, dimension.bandwidth);
    log_density += std::log(density / static_cast<double>(dimension.points.size() + 1));
  }
  return log_density;
}

}  // namespace gradients::miner
