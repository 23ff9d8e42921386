#include "validator/tasks/task_spec.h"

#include "common/hex.h"
#include "common/utf8.h"
#include "proto/timestamps.h"

namespace gradients::validator {

// TaskStatus's order is the proto's, one past UNSPECIFIED.
v1::TaskStatus ToProtoStatus(TaskStatus status) { return static_cast<v1::TaskStatus>(static_cast<int>(status) + 1); }

common::Status SetDigest(const std::string& hex, v1::Digest* digest) {
  common::Result<std::vector<uint8_t>> bytes = common::FromHex(hex);
  if (!bytes.ok()) return common::Status::DataLoss("stored hash \"" + hex.substr(0, 80) + "\": " + bytes.status().message());
  digest->set_algorithm(v1::DIGEST_ALGORITHM_BLAKE2B_256);
  digest->set_value(bytes->data(), bytes->size());
  return common::Status::Ok();
}

common::Status FillTaskSpec(const TaskRecord& task, const ModelRecord& model, const DatasetRecord& dataset,
                    v1::TaskSpec* spec) {
  spec->set_task_id(task.id);
  spec->set_type(proto::ToProtoType(task.type));
  spec->set_base_model_name(common::ToValidUtf8(model.name));
  GRADIENTS_RETURN_IF_ERROR(SetDigest(model.hash, spec->mutable_base_model_digest()));
  spec->set_base_model_parameters(static_cast<uint64_t>(model.parameters));
  for (const ModelFile& file : model.files) {
    v1::BlobRef* ref = spec->add_base_model_files();
    GRADIENTS_RETURN_IF_ERROR(SetDigest(file.blob, ref->mutable_digest()));
    ref->set_size_bytes(static_cast<uint64_t>(file.bytes));
    ref->set_file_name(common::ToValidUtf8(file.path));
    ref->set_role(v1::BLOB_ROLE_BASE_MODEL_FILE);
  }
  if (!task.train_blob.empty()) {
    v1::BlobRef* ref = spec->mutable_training_split();
    GRADIENTS_RETURN_IF_ERROR(SetDigest(task.train_blob, ref->mutable_digest()));
    ref->set_size_bytes(static_cast<uint64_t>(task.train_bytes));
    ref->set_file_name("train." + dataset.format);
    ref->set_role(v1::BLOB_ROLE_TRAINING_SPLIT);
    spec->set_training_split_format(dataset.format == "csv" ? v1::DATASET_FORMAT_CSV : v1::DATASET_FORMAT_JSONL);
    spec->set_training_rows(static_cast<uint64_t>(task.train_rows));
  }
  for (const auto& [role, column] : task.columns.columns) {
    (*spec->mutable_column_mapping()->mutable_columns())[common::ToValidUtf8(role)] = common::ToValidUtf8(column);
  }
  proto::SetTimestampMs(task.created_at_ms, spec->mutable_created_at());
  if (task.deadline_ms > 0) proto::SetTimestampMs(task.deadline_ms, spec->mutable_deadline());
  spec->set_pool_size(static_cast<uint32_t>(task.pool_size));
  if (task.max_training_tokens > 0) spec->set_max_training_tokens(static_cast<uint64_t>(task.max_training_tokens));
  return common::Status::Ok();
}

}  // namespace gradients::validator
