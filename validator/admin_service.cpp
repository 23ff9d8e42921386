#include "validator/admin_service.h"

#include <algorithm>
#include <array>
#include <climits>

#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "proto/grpc_status.h"
#include "proto/timestamps.h"
#include "validator/task_creation.h"

namespace gradients {
namespace {

constexpr size_t kMaxReasonBytes = 512;
constexpr uint32_t kDefaultPageSize = 50;
constexpr uint32_t kMaxPageSize = 500;

constexpr std::array<std::pair<std::string_view, v1::TaskType>, 6> kTypes = {{
    {"instruct", v1::TASK_TYPE_INSTRUCT},
    {"chat", v1::TASK_TYPE_CHAT},
    {"text", v1::TASK_TYPE_TEXT},
    {"dpo", v1::TASK_TYPE_DPO},
    {"grpo", v1::TASK_TYPE_GRPO},
    {"image", v1::TASK_TYPE_IMAGE},
}};

v1::TaskType ToProtoType(std::string_view type) {
  for (const auto& [name, value] : kTypes) {
    if (name == type) return value;
  }
  return v1::TASK_TYPE_UNSPECIFIED;
}

// TaskStatus's order is the proto's, one past UNSPECIFIED.
v1::TaskStatus ToProtoStatus(TaskStatus status) { return static_cast<v1::TaskStatus>(static_cast<int>(status) + 1); }

Status SetDigest(const std::string& hex, v1::Digest* digest) {
  Result<std::vector<uint8_t>> bytes = FromHex(hex);
  if (!bytes.ok()) return Status::DataLoss("stored hash \"" + hex.substr(0, 80) + "\": " + bytes.status().message());
  digest->set_algorithm(v1::DIGEST_ALGORITHM_BLAKE2B_256);
  digest->set_value(bytes->data(), bytes->size());
  return Status::Ok();
}

// Equal or not, without an early exit that would tell a caller how much of a guess was right.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // a bearer token's length is not the secret
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

}  // namespace

AdminService::AdminService(Store& store, const BlobStore& blobs, AdminServiceOptions options, ClockMs now_ms)
    : store_(store), blobs_(blobs), options_(std::move(options)), now_ms_(std::move(now_ms)), started_at_ms_(now_ms_()) {}

grpc::Status AdminService::CheckToken(const grpc::ServerContext& context) const {
  if (!options_.token) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("authorization");
  const std::string given = found == metadata.end() ? "" : std::string(found->second.data(), found->second.size());
  if (!ConstantTimeEquals(given, "Bearer " + *options_.token)) {
    return {grpc::StatusCode::UNAUTHENTICATED, "missing or wrong admin token"};
  }
  return grpc::Status::OK;
}

Status AdminService::ToProto(const TaskRecord& task, v1::Task* out) {
  v1::TaskSpec* spec = out->mutable_spec();
  spec->set_task_id(task.id);
  spec->set_type(ToProtoType(task.type));
  Result<ModelRecord> model = store_.GetModel(task.model_hash);
  if (!model.ok()) return model.status();
  spec->set_base_model_name(model->name);
  GRADIENTS_RETURN_IF_ERROR(SetDigest(model->hash, spec->mutable_base_model_digest()));
  for (const ModelFile& file : model->files) {
    v1::BlobRef* ref = spec->add_base_model_files();
    GRADIENTS_RETURN_IF_ERROR(SetDigest(file.blob, ref->mutable_digest()));
    ref->set_size_bytes(static_cast<uint64_t>(file.bytes));
    ref->set_file_name(file.path);
    ref->set_role(v1::BLOB_ROLE_BASE_MODEL_FILE);
  }
  Result<DatasetRecord> dataset = store_.GetDataset(task.dataset_hash);
  if (!dataset.ok()) return dataset.status();
  if (!task.train_blob.empty()) {
    v1::BlobRef* ref = spec->mutable_training_split();
    GRADIENTS_RETURN_IF_ERROR(SetDigest(task.train_blob, ref->mutable_digest()));
    ref->set_file_name("train." + dataset->format);
    ref->set_role(v1::BLOB_ROLE_TRAINING_SPLIT);
    spec->set_training_split_format(dataset->format == "csv" ? v1::DATASET_FORMAT_CSV : v1::DATASET_FORMAT_JSONL);
    spec->set_training_rows(static_cast<uint64_t>(task.train_rows));
  }
  const nlohmann::json columns = nlohmann::json::parse(task.columns_json, nullptr, /*allow_exceptions=*/false);
  if (columns.is_object()) {
    for (const auto& [role, column] : columns.items()) {
      if (column.is_string()) (*spec->mutable_column_mapping()->mutable_columns())[role] = column.get<std::string>();
    }
  }
  SetTimestampMs(task.created_at_ms, spec->mutable_created_at());
  if (task.deadline_ms > 0) SetTimestampMs(task.deadline_ms, spec->mutable_deadline());
  spec->set_pool_size(static_cast<uint32_t>(task.pool_size));
  if (task.max_training_tokens > 0) spec->set_max_training_tokens(static_cast<uint64_t>(task.max_training_tokens));
  out->set_status(ToProtoStatus(task.status));
  out->set_failure_reason(task.failure_reason.substr(0, kMaxReasonBytes));
  out->set_dataset_name(dataset->name);
  GRADIENTS_RETURN_IF_ERROR(SetDigest(dataset->hash, out->mutable_dataset_digest()));
  out->set_test_rows(static_cast<uint64_t>(task.test_rows));  // the count only, never the rows or the seed
  out->set_min_pool_size(static_cast<uint32_t>(task.min_pool_size));
  out->set_max_pool_size(static_cast<uint32_t>(task.pool_size));
  SetTimestampMs(task.updated_at_ms, out->mutable_updated_at());
  return Status::Ok();
}

grpc::Status AdminService::Health(grpc::ServerContext* context, const v1::HealthRequest*, v1::HealthResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  response->set_status(v1::SERVING_STATUS_SERVING);
  response->set_version(options_.version);
  SetDurationMs(std::max<int64_t>(0, now_ms_() - started_at_ms_), response->mutable_uptime());
  response->set_validator_id(options_.validator_id);
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateTask(grpc::ServerContext* context, const v1::CreateTaskRequest* request,
                                      v1::CreateTaskResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  if (request->base_model().size() > 1024 || request->dataset().size() > 1024) {
    return ToGrpcStatus(Status::InvalidArgument("base_model and dataset: at most 1024 bytes each"));
  }
  NewTask task{.type = {},
               .base_model = request->base_model(),
               .dataset = request->dataset(),
               .columns = {request->column_mapping().columns().begin(), request->column_mapping().columns().end()},
               .duration_minutes = request->duration_minutes(),
               .min_pool_size = request->min_pool_size(),
               .max_pool_size = request->max_pool_size(),
               .max_training_tokens = static_cast<int64_t>(std::min<uint64_t>(request->max_training_tokens(), LLONG_MAX)),
               .request_id = request->request_id()};
  for (const auto& [name, value] : kTypes) {
    if (value == request->type()) task.type = name;
  }
  Result<TaskRecord> created = gradients::CreateTask(store_, blobs_, task, now_ms_());
  if (!created.ok()) return ToGrpcStatus(created.status());
  options_.task_created();
  return ToGrpcStatus(ToProto(*created, response->mutable_task()));
}

grpc::Status AdminService::GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                                   v1::GetTaskResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  Result<TaskRecord> task = store_.GetTask(request->task_id());
  if (!task.ok()) return ToGrpcStatus(task.status());
  return ToGrpcStatus(ToProto(*task, response->mutable_task()));
}

grpc::Status AdminService::ListTasks(grpc::ServerContext* context, const v1::ListTasksRequest* request,
                                     v1::ListTasksResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  if (request->page_size() > kMaxPageSize) {
    return ToGrpcStatus(Status::InvalidArgument("page_size: at most " + std::to_string(kMaxPageSize)));
  }
  const uint32_t page_size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  // The token is the position in the filtered list, tied to the filter it was made for.
  std::string filter = std::to_string(static_cast<int>(request->type()));
  for (int status : request->statuses()) filter += "," + std::to_string(status);
  size_t offset = 0;
  if (!request->page_token().empty()) {
    const size_t colon = request->page_token().find(':');
    if (colon == std::string::npos || request->page_token().substr(colon + 1) != filter) {
      return ToGrpcStatus(Status::InvalidArgument("page_token: not from a listing with this filter"));
    }
    try {
      offset = std::stoull(request->page_token().substr(0, colon));
    } catch (const std::exception&) {
      return ToGrpcStatus(Status::InvalidArgument("page_token: malformed"));
    }
  }
  Result<std::vector<TaskRecord>> tasks = store_.ListTasks(std::nullopt);
  if (!tasks.ok()) return ToGrpcStatus(tasks.status());
  std::vector<const TaskRecord*> matching;
  for (auto it = tasks->rbegin(); it != tasks->rend(); ++it) {  // newest first
    const bool type_ok = request->type() == v1::TASK_TYPE_UNSPECIFIED || ToProtoType(it->type) == request->type();
    const bool status_ok = request->statuses().empty() ||
                           std::find(request->statuses().begin(), request->statuses().end(),
                                     ToProtoStatus(it->status)) != request->statuses().end();
    if (type_ok && status_ok) matching.push_back(&*it);
  }
  for (size_t i = offset; i < matching.size() && i < offset + page_size; ++i) {
    if (Status status = ToProto(*matching[i], response->add_tasks()); !status.ok()) return ToGrpcStatus(status);
  }
  if (offset + page_size < matching.size()) response->set_next_page_token(std::to_string(offset + page_size) + ":" + filter);
  return grpc::Status::OK;
}

grpc::Status AdminService::CancelTask(grpc::ServerContext* context, const v1::CancelTaskRequest* request,
                                      v1::CancelTaskResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  if (request->reason().size() > kMaxReasonBytes) {
    return ToGrpcStatus(Status::InvalidArgument("reason: at most " + std::to_string(kMaxReasonBytes) + " bytes"));
  }
  Result<TaskRecord> task = store_.GetTask(request->task_id());
  if (!task.ok()) return ToGrpcStatus(task.status());
  if (IsTerminal(task->status)) {
    return ToGrpcStatus(Status::FailedPrecondition("task " + task->id + " is already " +
                                                   std::string(TaskStatusName(task->status))));
  }
  const std::string reason = "cancelled by the operator" + (request->reason().empty() ? "" : ": " + request->reason());
  // Compare and set: a task that moved meanwhile is refused with its new status.
  if (Status status = store_.TransitionTask(task->id, task->status, TaskStatus::kFailed, reason, now_ms_()); !status.ok()) {
    return ToGrpcStatus(status);
  }
  Result<TaskRecord> cancelled = store_.GetTask(task->id);
  if (!cancelled.ok()) return ToGrpcStatus(cancelled.status());
  return ToGrpcStatus(ToProto(*cancelled, response->mutable_task()));
}

}  // namespace gradients
