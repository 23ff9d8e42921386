// The SqliteStore's CatalogStore (validator/state/catalog_store.h): models, their files, datasets.
#include "validator/state/sqlite_store.h"

#include <mutex>
#include <string>
#include <utility>

#include "validator/state/sqlite_rows.h"

namespace gradients::validator {

common::Status SqliteStore::AddModel(const ModelRecord& model) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  common::Result<SqliteStatement> insert =
      db_->Prepare("INSERT INTO models (hash, name, added_at_ms, parameters) VALUES (?1, ?2, ?3, ?4) "
                   "ON CONFLICT (hash) DO NOTHING");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(
      insert->Bind(1, model.hash).Bind(2, model.name).Bind(3, model.added_at_ms).Bind(4, model.parameters).Run());
  if (db_->Changes() == 0) return common::Status::Ok();  // already registered
  for (const ModelFile& file : model.files) {
    common::Result<SqliteStatement> file_insert =
        db_->Prepare("INSERT INTO model_files (model_hash, path, bytes, blob) VALUES (?1, ?2, ?3, ?4)");
    if (!file_insert.ok()) return file_insert.status();
    GRADIENTS_RETURN_IF_ERROR(
        file_insert->Bind(1, model.hash).Bind(2, file.path).Bind(3, file.bytes).Bind(4, file.blob).Run());
  }
  return transaction->Commit();
}

common::Result<std::vector<ModelFile>> SqliteStore::ModelFiles(std::string_view hash) {
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT path, bytes, blob FROM model_files WHERE model_hash = ?1 ORDER BY path");
  if (!select.ok()) return select.status();
  select->Bind(1, hash);
  return ReadAll<ModelFile>(*select, [](const SqliteStatement& row) -> common::Result<ModelFile> {
    return ModelFile{.path = row.Text(0), .bytes = row.Integer(1), .blob = row.Text(2)};
  });
}

common::Result<ModelRecord> SqliteStore::GetModel(std::string_view hash) {
  {
    std::lock_guard lock(registered_mutex_);
    if (auto found = models_read_.find(hash); found != models_read_.end()) return found->second;
  }
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, added_at_ms, parameters FROM models WHERE hash = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, hash).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no model with hash " + std::string(hash.substr(0, 80)));
  ModelRecord model{.hash = select->Text(0), .name = select->Text(1), .files = {}, .parameters = select->Integer(3),
                    .added_at_ms = select->Integer(2)};
  common::Result<std::vector<ModelFile>> files = ModelFiles(model.hash);
  if (!files.ok()) return files.status();
  model.files = std::move(*files);
  std::lock_guard registered_lock(registered_mutex_);
  models_read_.emplace(model.hash, model);
  return model;
}

common::Result<std::vector<ModelRecord>> SqliteStore::ListModels() {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, added_at_ms, parameters FROM models ORDER BY added_at_ms, hash");
  if (!select.ok()) return select.status();
  return ReadAll<ModelRecord>(*select, [&](const SqliteStatement& row) -> common::Result<ModelRecord> {
    ModelRecord model{.hash = row.Text(0), .name = row.Text(1), .files = {}, .parameters = row.Integer(3),
                      .added_at_ms = row.Integer(2)};
    common::Result<std::vector<ModelFile>> files = ModelFiles(model.hash);
    if (!files.ok()) return files.status();
    model.files = std::move(*files);
    return model;
  });
}

common::Status SqliteStore::AddDataset(const DatasetRecord& dataset) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO datasets (hash, name, format, bytes, added_at_ms, split_seed) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT (hash) DO NOTHING");
  if (!insert.ok()) return insert.status();
  if (dataset.split_seed.empty()) return common::Status::InvalidArgument("dataset " + dataset.name + ": no split seed");
  return insert->Bind(1, dataset.hash)
      .Bind(2, dataset.name)
      .Bind(3, dataset.format)
      .Bind(4, dataset.bytes)
      .Bind(5, dataset.added_at_ms)
      .Bind(6, dataset.split_seed)
      .Run();
}

namespace {

DatasetRecord ReadDataset(const SqliteStatement& row) {
  return DatasetRecord{.hash = row.Text(0),
                       .name = row.Text(1),
                       .format = row.Text(2),
                       .bytes = row.Integer(3),
                       .split_seed = row.Text(5),
                       .added_at_ms = row.Integer(4)};
}

}  // namespace

common::Result<DatasetRecord> SqliteStore::GetDataset(std::string_view hash) {
  {
    std::lock_guard lock(registered_mutex_);
    if (auto found = datasets_read_.find(hash); found != datasets_read_.end()) return found->second;
  }
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, format, bytes, added_at_ms, split_seed FROM datasets WHERE hash = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, hash).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no dataset with hash " + std::string(hash.substr(0, 80)));
  DatasetRecord dataset = ReadDataset(*select);
  std::lock_guard registered_lock(registered_mutex_);
  datasets_read_.emplace(dataset.hash, dataset);
  return dataset;
}

common::Result<std::vector<DatasetRecord>> SqliteStore::ListDatasets() {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, format, bytes, added_at_ms, split_seed FROM datasets ORDER BY added_at_ms, hash");
  if (!select.ok()) return select.status();
  return ReadAll<DatasetRecord>(*select, [](const SqliteStatement& row) -> common::Result<DatasetRecord> {
    return ReadDataset(row);
  });
}
}  // namespace gradients::validator
