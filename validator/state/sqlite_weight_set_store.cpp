// The SqliteStore's WeightSetStore (validator/state/weight_set_store.h).
#include "validator/state/sqlite_store.h"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "validator/state/sqlite_rows.h"

namespace gradients::validator {

namespace {

constexpr std::string_view kWeightSetColumns =
    "id, computed_at_ms, window_start_ms, window_end_ms, weights_json, inputs, inputs_digest, published_to, "
    "published_at_ms";

common::Result<WeightSetRecord> ReadWeightSet(const SqliteStatement& row) {
  WeightSetRecord set{.id = row.Integer(0), .computed_at_ms = row.Integer(1), .window_start_ms = row.Integer(2),
                      .window_end_ms = row.Integer(3), .weights = {}, .inputs = row.Text(5),
                      .inputs_digest = row.Text(6), .published_to = row.Text(7), .published_at_ms = row.Integer(8)};
  const nlohmann::json weights = nlohmann::json::parse(row.Text(4), nullptr, /*allow_exceptions=*/false);
  if (!weights.is_object()) return common::Status::DataLoss("weight set " + std::to_string(set.id) + ": weights do not parse");
  for (const auto& [miner, weight] : weights.items()) {
    if (!weight.is_number()) return common::Status::DataLoss("weight set " + std::to_string(set.id) + ": weights do not parse");
    set.weights[miner] = weight.get<double>();
  }
  return set;
}

}  // namespace

common::Result<WeightSetRecord> SqliteStore::AddWeightSet(WeightSetRecord weight_set) {
  std::lock_guard lock(mutex_);
  nlohmann::json weights = nlohmann::json::object();
  for (const auto& [miner, weight] : weight_set.weights) weights[miner] = weight;
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO weight_sets (computed_at_ms, window_start_ms, window_end_ms, weights_json, inputs, inputs_digest) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(insert->Bind(1, weight_set.computed_at_ms)
                                .Bind(2, weight_set.window_start_ms)
                                .Bind(3, weight_set.window_end_ms)
                                .Bind(4, weights.dump())
                                .Bind(5, weight_set.inputs)
                                .Bind(6, weight_set.inputs_digest)
                                .Run());
  weight_set.id = db_->LastInsertRowId();
  return weight_set;
}

common::Result<WeightSetRecord> SqliteStore::LatestWeightSet() {
  common::Result<std::vector<WeightSetRecord>> latest = ListWeightSets(0, 0, 1);
  if (!latest.ok()) return latest.status();
  if (latest->empty()) return common::Status::NotFound("no weights computed yet");
  return std::move(latest->front());
}

common::Result<std::vector<WeightSetRecord>> SqliteStore::ListWeightSets(int64_t since_ms, int64_t before_id, int64_t limit) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT " + std::string(kWeightSetColumns) +
      " FROM weight_sets WHERE computed_at_ms >= ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3");
  if (!select.ok()) return select.status();
  select->Bind(1, since_ms).Bind(2, before_id).Bind(3, limit);
  return ReadAll<WeightSetRecord>(*select, ReadWeightSet);
}

common::Status SqliteStore::MarkWeightSetPublished(int64_t id, std::string_view published_to, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> update =
      db_->Prepare("UPDATE weight_sets SET published_to = ?2, published_at_ms = ?3 WHERE id = ?1");
  if (!update.ok()) return update.status();
  GRADIENTS_RETURN_IF_ERROR(update->Bind(1, id).Bind(2, published_to).Bind(3, at_ms).Run());
  if (db_->Changes() == 0) return common::Status::NotFound("no weight set " + std::to_string(id));
  return common::Status::Ok();
}
}  // namespace gradients::validator
