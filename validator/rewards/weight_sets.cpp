#include "validator/rewards/weight_sets.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/hex.h"

namespace gradients::validator {
namespace {

constexpr int kInputsVersion = 1;

// Typed reads of a parsed document; the first failure names the field.
struct Reader {
  common::Status status;
  const nlohmann::json& Field(const nlohmann::json& object, const char* key, const std::string& where) {
    static const nlohmann::json kNull;
    if (!status.ok()) return kNull;
    if (!object.is_object() || !object.contains(key)) {
      status = common::Status::InvalidArgument(where + "." + key + ": missing");
      return kNull;
    }
    return object[key];
  }
  template <typename T>
  T Get(const nlohmann::json& object, const char* key, const std::string& where) {
    const nlohmann::json& value = Field(object, key, where);
    if (!status.ok()) return T{};
    const bool fits = std::is_same_v<T, std::string> ? value.is_string()
                      : std::is_integral_v<T>         ? value.is_number_integer()
                                                      : value.is_number();
    if (!fits) {
      status = common::Status::InvalidArgument(where + "." + key + ": wrong type");
      return T{};
    }
    return value.get<T>();
  }
};

// The weights of a set: miners with a zero weight earn nothing and are left out.
std::map<std::string, double> NonZeroWeights(const WeightInputs& inputs) {
  std::map<std::string, double> weights = ComputeWeights(inputs.tasks, inputs.now_ms, inputs.options);
  std::erase_if(weights, [](const auto& entry) { return entry.second == 0; });
  return weights;
}

}  // namespace

std::string EncodeWeightInputs(const WeightInputs& inputs) {
  nlohmann::json windows = nlohmann::json::array();
  for (const WeightWindow& window : inputs.options.windows) windows.push_back({{"days", window.days}, {"weight", window.weight}});
  nlohmann::json tasks = nlohmann::json::array();
  for (const ScoredTask& task : inputs.tasks) {
    nlohmann::json points = nlohmann::json::array();
    for (const MinerPoints& entry : task.points) {
      points.push_back({{"miner", entry.miner}, {"points", entry.points}, {"rank", entry.rank}});
    }
    tasks.push_back({{"task_id", task.task_id}, {"type", task.type}, {"scored_at_ms", task.scored_at_ms},
                     {"work", task.work}, {"points", std::move(points)}});
  }
  const nlohmann::json json = {{"version", kInputsVersion},
                               {"now_ms", inputs.now_ms},
                               {"options",
                                {{"first_place_points", inputs.options.first_place_points},
                                 {"other_points", inputs.options.other_points},
                                 {"penalty_points", inputs.options.penalty_points},
                                 {"windows", std::move(windows)},
                                 {"type_weights", inputs.options.type_weights},
                                 {"sigmoid_steepness", inputs.options.sigmoid_steepness}}},
                               {"tasks", std::move(tasks)}};
  return json.dump();
}

common::Result<WeightInputs> DecodeWeightInputs(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return common::Status::InvalidArgument("inputs: not JSON");
  Reader read;
  WeightInputs inputs;
  if (read.Get<int>(json, "version", "inputs") != kInputsVersion && read.status.ok()) {
    return common::Status::InvalidArgument("inputs.version: only version 1 is known");
  }
  inputs.now_ms = read.Get<int64_t>(json, "now_ms", "inputs");
  const nlohmann::json& options = read.Field(json, "options", "inputs");
  inputs.options.first_place_points = read.Get<double>(options, "first_place_points", "inputs.options");
  inputs.options.other_points = read.Get<double>(options, "other_points", "inputs.options");
  inputs.options.penalty_points = read.Get<double>(options, "penalty_points", "inputs.options");
  inputs.options.sigmoid_steepness = read.Get<double>(options, "sigmoid_steepness", "inputs.options");
  inputs.options.windows.clear();
  for (const nlohmann::json& window : read.Field(options, "windows", "inputs.options")) {
    inputs.options.windows.push_back({.days = read.Get<int64_t>(window, "days", "inputs.options.windows[]"),
                                      .weight = read.Get<double>(window, "weight", "inputs.options.windows[]")});
  }
  inputs.options.type_weights.clear();
  const nlohmann::json& types = read.Field(options, "type_weights", "inputs.options");
  if (read.status.ok() && !types.is_object()) return common::Status::InvalidArgument("inputs.options.type_weights: wrong type");
  for (const auto& [type, weight] : types.items()) {
    if (!weight.is_number()) return common::Status::InvalidArgument("inputs.options.type_weights." + type + ": wrong type");
    inputs.options.type_weights[type] = weight.get<double>();
  }
  for (const nlohmann::json& task : read.Field(json, "tasks", "inputs")) {
    ScoredTask scored{.task_id = read.Get<std::string>(task, "task_id", "inputs.tasks[]"),
                      .type = read.Get<std::string>(task, "type", "inputs.tasks[]"),
                      .scored_at_ms = read.Get<int64_t>(task, "scored_at_ms", "inputs.tasks[]"),
                      .work = read.Get<double>(task, "work", "inputs.tasks[]"),
                      .points = {}};
    for (const nlohmann::json& entry : read.Field(task, "points", "inputs.tasks[]")) {
      scored.points.push_back({.miner = read.Get<std::string>(entry, "miner", "inputs.tasks[].points[]"),
                               .points = read.Get<double>(entry, "points", "inputs.tasks[].points[]"),
                               .rank = read.Get<int64_t>(entry, "rank", "inputs.tasks[].points[]")});
    }
    inputs.tasks.push_back(std::move(scored));
  }
  if (!read.status.ok()) return read.status;
  return inputs;
}

common::Result<std::vector<ScoredTask>> ListScoredTasks(CatalogStore& catalog_store, TaskStore& task_store,
                                                        EvaluationStore& evaluation_store, int64_t since_ms,
                                                        int64_t now_ms) {
  common::Result<std::vector<TaskRecord>> scored = task_store.ListTasks(TaskStatus::kScored);  // oldest first
  if (!scored.ok()) return scored.status();
  std::map<std::string, int64_t> parameters;  // by model hash
  std::vector<ScoredTask> tasks;
  for (const TaskRecord& task : *scored) {
    if (task.scored_at_ms <= since_ms || task.scored_at_ms > now_ms) continue;
    auto model = parameters.find(task.model_hash);
    if (model == parameters.end()) {
      common::Result<ModelRecord> record = catalog_store.GetModel(task.model_hash);
      if (!record.ok()) return record.status();
      model = parameters.emplace(task.model_hash, record->parameters).first;
    }
    common::Result<std::vector<EvaluationRecord>> evaluations = evaluation_store.ListEvaluations(task.id);  // by miner
    if (!evaluations.ok()) return evaluations.status();
    ScoredTask entry{.task_id = task.id,
                     .type = task.type,
                     .scored_at_ms = task.scored_at_ms,
                     .work = static_cast<double>(model->second) / 1e9 * (static_cast<double>(task.duration_s) / 3600.0),
                     .points = {}};
    for (const EvaluationRecord& evaluation : *evaluations) {
      entry.points.push_back({.miner = evaluation.miner, .points = evaluation.points, .rank = evaluation.rank});
    }
    tasks.push_back(std::move(entry));
  }
  return tasks;
}

common::Result<WeightInputs> GatherWeightInputs(CatalogStore& catalog_store, TaskStore& task_store,
                                                EvaluationStore& evaluation_store, const ScoringOptions& options,
                                                int64_t now_ms) {
  common::Result<std::vector<ScoredTask>> tasks =
      ListScoredTasks(catalog_store, task_store, evaluation_store, now_ms - LongestWindowMs(options), now_ms);
  if (!tasks.ok()) return tasks.status();
  return WeightInputs{.now_ms = now_ms, .options = options, .tasks = std::move(*tasks)};
}

WeightSetRecord MakeWeightSet(const WeightInputs& inputs) {
  const std::string encoded = EncodeWeightInputs(inputs);
  return WeightSetRecord{.id = 0,
                         .computed_at_ms = inputs.now_ms,
                         .window_start_ms = inputs.now_ms - LongestWindowMs(inputs.options),
                         .window_end_ms = inputs.now_ms,
                         .weights = NonZeroWeights(inputs),
                         .inputs = encoded,
                         .inputs_digest = common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, encoded)),
                         .published_to = {},
                         .published_at_ms = 0};
}

std::string WeightSetJson(const WeightSetRecord& weight_set, std::string_view validator_id) {
  nlohmann::json weights = nlohmann::json::array();
  for (const auto& [miner, weight] : weight_set.weights) weights.push_back({{"miner", miner}, {"weight", weight}});
  return nlohmann::json{{"validator_id", validator_id},
                        {"id", weight_set.id},
                        {"computed_at_ms", weight_set.computed_at_ms},
                        {"window_start_ms", weight_set.window_start_ms},
                        {"window_end_ms", weight_set.window_end_ms},
                        {"inputs_digest", weight_set.inputs_digest},
                        {"weights", std::move(weights)}}
             .dump(2) +
         "\n";
}

std::string AuditLine(const WeightSetRecord& weight_set) {
  nlohmann::json weights = nlohmann::json::object();
  for (const auto& [miner, weight] : weight_set.weights) weights[miner] = weight;
  // The inputs travel as the exact stored string: their digest is over those bytes.
  return nlohmann::json{{"id", weight_set.id},
                        {"computed_at_ms", weight_set.computed_at_ms},
                        {"inputs", weight_set.inputs},
                        {"inputs_digest", weight_set.inputs_digest},
                        {"weights", std::move(weights)}}
      .dump();
}

common::Status VerifyAuditLine(std::string_view line) {
  const nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  Reader read;
  const int64_t id = read.Get<int64_t>(json, "id", "audit");
  const std::string inputs = read.Get<std::string>(json, "inputs", "audit");
  const std::string digest = read.Get<std::string>(json, "inputs_digest", "audit");
  const nlohmann::json& recorded = read.Field(json, "weights", "audit");
  if (!read.status.ok()) return read.status;
  const std::string set = "weight set " + std::to_string(id);
  if (common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, inputs)) != digest) {
    return common::Status::FailedPrecondition(set + ": its inputs do not match their digest");
  }
  common::Result<WeightInputs> decoded = DecodeWeightInputs(inputs);
  if (!decoded.ok()) return decoded.status().WithContext(set);
  // Only the canonical encoding counts: another reading of the same digest could differ.
  if (EncodeWeightInputs(*decoded) != inputs) {
    return common::Status::FailedPrecondition(set + ": its inputs are not in canonical form");
  }
  if (read.Get<int64_t>(json, "computed_at_ms", "audit") != decoded->now_ms || !read.status.ok()) {
    return common::Status::FailedPrecondition(set + ": computed_at_ms is not the instant of its inputs");
  }
  const std::map<std::string, double> weights = NonZeroWeights(*decoded);
  if (!recorded.is_object() || recorded.size() != weights.size()) {
    return common::Status::FailedPrecondition(set + ": " + std::to_string(weights.size()) + " miners recomputed, " +
                                      std::to_string(recorded.size()) + " recorded");
  }
  for (const auto& [miner, weight] : weights) {
    if (!recorded.contains(miner) || !recorded[miner].is_number() || recorded[miner].get<double>() != weight) {
      return common::Status::FailedPrecondition(set + ": miner " + miner + " recomputes to " + nlohmann::json(weight).dump() +
                                        ", recorded " + (recorded.contains(miner) ? recorded[miner].dump() : "none"));
    }
  }
  return common::Status::Ok();
}

}  // namespace gradients::validator
