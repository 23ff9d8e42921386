// What the search strategies explore (issue 6, Strategies): a JSON object naming the searched
// hyperparameters, each with its choices or its range, e.g.
//   {"learning_rate": {"min": 1e-5, "max": 1e-3, "log": true},
//    "lora_r": {"choices": [8, 16, 32]}, "lr_scheduler": {"choices": ["cosine", "linear"]}}
// Every hyperparameter the space does not name keeps the strategy's base value. A trial's values
// are an "assignment": a JSON object with the same keys, applied onto the base hyperparameters.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "trainers/hyperparameters.h"

namespace gradients::miner {

// The names a space may search, in the order assignments list them.
const std::vector<std::string>& SearchableHyperparameters();

struct SearchDimension {
  std::string name;
  std::vector<nlohmann::json> choices;  // a categorical dimension when not empty
  double min = 0;                       // otherwise a range [min, max]
  double max = 0;
  bool log = false;      // sampled uniformly in log space
  bool integer = false;  // set for the integer hyperparameters: samples are rounded

  bool categorical() const { return !choices.empty(); }
  // A point of [0, 1] (uniform in the dimension's own scale) as a value, and back; for a
  // categorical dimension, the point picks a choice and the value maps to its choice's centre.
  nlohmann::json ValueAt(double unit) const;
  double UnitOf(const nlohmann::json& value) const;
};

struct SearchSpace {
  std::vector<SearchDimension> dimensions;  // in SearchableHyperparameters() order
};
void ReadConfig(common::ConfigReader& reader, SearchSpace& space);

// A deterministic generator (the same seed gives the same trials on every platform, unlike the
// standard distributions).
class SearchRandom {
 public:
  explicit SearchRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next();   // splitmix64
  double Uniform();  // [0, 1)
  double Normal();   // standard normal (Box-Muller)

 private:
  uint64_t state_;
};

// One uniform draw from every dimension.
nlohmann::json SampleAssignment(const SearchSpace& space, SearchRandom& random);

// The base hyperparameters with `assignment` applied, validated as a configuration is (an
// assignment outside what the trainer accepts, e.g. a dropout of 1, is an error naming it).
common::Result<train::Hyperparameters> ApplyAssignment(const train::Hyperparameters& base, const nlohmann::json& assignment);

}  // namespace gradients::miner
