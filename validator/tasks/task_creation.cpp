#include "validator/tasks/task_creation.h"

#include <algorithm>
#include <array>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/hex.h"
#include "common/keys.h"
#include "common/utf8.h"
#include "validator/state/registry.h"
#include "validator/tasks/dataset_split.h"

namespace gradients::validator {
namespace {

struct TypeRoles {
  std::string_view type;
  std::vector<std::string_view> required;
  std::vector<std::string_view> optional;
};

// The roles each trainable type reads: what the trainers read (text/dataset.h), so that every
// miner can train what is asked. (The protocol also names "system" for chat; the trainers read the
// system turn from the messages.)
const std::array<TypeRoles, 3>& Roles() {
  static const std::array<TypeRoles, 3> roles = {{
      {"instruct", {"instruction", "output"}, {"input", "system"}},
      {"chat", {"messages"}, {}},
      {"text", {"text"}, {}},
  }};
  return roles;
}

constexpr size_t kMaxRequestIdBytes = 64;
constexpr size_t kMaxListedColumns = 20;
constexpr size_t kMaxColumnBytes = 128;

// What identifies a request: the same fields give the same digest.
std::string Fingerprint(const NewTask& request) {
  nlohmann::json fields = {{"type", request.type},
                                 {"base_model", request.base_model},
                                 {"dataset", request.dataset},
                                 {"columns", request.columns},
                                 {"min_pool_size", request.min_pool_size},
                                 {"max_pool_size", request.max_pool_size},
                                 {"max_training_tokens", request.max_training_tokens}};
  // Whole minutes as they were written when durations were minutes: a request retried across the
  // upgrade still finds the task it created.
  if (request.duration_s % 60 == 0) {
    fields["duration_minutes"] = request.duration_s / 60;
  } else {
    fields["duration_s"] = request.duration_s;
  }
  return common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, fields.dump()));
}

common::Status CheckRequest(const NewTask& request, const TaskLimits& limits, const TypeRoles*& roles) {
  roles = nullptr;
  for (const TypeRoles& candidate : Roles()) {
    if (candidate.type == request.type) roles = &candidate;
  }
  if (roles == nullptr) {
    return common::Status::InvalidArgument("type: \"" + common::ToValidUtf8(request.type.substr(0, 20)) +
                                   "\" is not a task type miners train (instruct, chat or text)");
  }
  if (request.duration_s < limits.min_duration_s || request.duration_s > limits.max_duration_s) {
    return common::Status::InvalidArgument("duration: must be between " + std::to_string(limits.min_duration_s) + " and " +
                                   std::to_string(limits.max_duration_s) + " seconds (this validator's tasks section)");
  }
  if (request.min_pool_size < 1) return common::Status::InvalidArgument("min_pool_size: must be at least 1");
  if (request.max_pool_size < request.min_pool_size || request.max_pool_size > 256) {
    return common::Status::InvalidArgument("max_pool_size: must be between min_pool_size and 256");
  }
  if (request.max_training_tokens < 0) return common::Status::InvalidArgument("max_training_tokens: must not be negative");
  if (request.request_id.size() > kMaxRequestIdBytes) {
    return common::Status::InvalidArgument("request_id: at most " + std::to_string(kMaxRequestIdBytes) + " bytes");
  }
  if (request.columns.size() > 16) return common::Status::InvalidArgument("column_mapping: at most 16 entries");
  for (const auto& [role, column] : request.columns) {
    const bool known = std::find(roles->required.begin(), roles->required.end(), role) != roles->required.end() ||
                       std::find(roles->optional.begin(), roles->optional.end(), role) != roles->optional.end();
    if (!known) return common::Status::InvalidArgument("column_mapping: " + request.type + " tasks have no role \"" + role.substr(0, 40) + "\"");
    if (column.empty() || column.size() > kMaxColumnBytes) {
      return common::Status::InvalidArgument("column_mapping: the column for \"" + role + "\" must be 1 to 128 bytes");
    }
  }
  return common::Status::Ok();
}

// The registered model or dataset of this name (the newest of that name), or the content at this
// path, registered now.
common::Result<ModelRecord> ResolveModel(CatalogStore& catalog_store, const BlobStore& blobs, const std::string& name,
                                         int64_t now_ms) {
  common::Result<std::vector<ModelRecord>> models = catalog_store.ListModels();
  if (!models.ok()) return models.status();
  for (auto it = models->rbegin(); it != models->rend(); ++it) {
    if (it->name == name) return *it;
  }
  std::error_code error;
  if (std::filesystem::is_directory(name, error)) return RegisterModel(catalog_store, blobs, name, "", now_ms);
  return common::Status::NotFound("base_model: no registered model named \"" + name.substr(0, 200) + "\" and no such directory");
}

common::Result<DatasetRecord> ResolveDataset(CatalogStore& catalog_store, const BlobStore& blobs,
                                             const std::string& name, int64_t now_ms) {
  common::Result<std::vector<DatasetRecord>> datasets = catalog_store.ListDatasets();
  if (!datasets.ok()) return datasets.status();
  for (auto it = datasets->rbegin(); it != datasets->rend(); ++it) {
    if (it->name == name) return *it;
  }
  std::error_code error;
  if (std::filesystem::is_regular_file(name, error)) {
    return RegisterDataset(catalog_store, blobs, name, "", now_ms);
  }
  return common::Status::NotFound("dataset: no registered dataset named \"" + name.substr(0, 200) + "\" and no such file");
}

// Every role the type needs, and every mapped role, names a column the dataset has.
common::Status CheckColumns(const NewTask& request, const TypeRoles& roles, const DatasetRecord& dataset,
                    const BlobStore& blobs) {
  // The header (or first row) is near the start: no need to hold the whole dataset.
  common::Result<std::string> text = blobs.Read(dataset.hash, 0, kDatasetColumnsPrefixBytes);
  if (!text.ok()) return text.status();
  common::Result<std::vector<std::string>> columns = DatasetColumns(*text, dataset.format);
  if (!columns.ok()) return columns.status().WithContext("dataset " + dataset.name);
  const std::set<std::string> available(columns->begin(), columns->end());
  auto column_of = [&](std::string_view role) {
    auto mapped = request.columns.find(std::string(role));
    return mapped == request.columns.end() ? std::string(role) : mapped->second;
  };
  std::vector<std::string_view> needed = roles.required;
  for (const auto& [role, column] : request.columns) needed.push_back(role);
  for (std::string_view role : needed) {
    const std::string column = column_of(role);
    if (!available.contains(column)) {
      std::string listed;
      size_t shown = 0;
      for (const std::string& name : available) {
        if (shown++ == kMaxListedColumns) {
          listed += ", ...";
          break;
        }
        listed += (listed.empty() ? "" : ", ") + common::ToValidUtf8(name.substr(0, 40));
      }
      return common::Status::InvalidArgument("column_mapping: role \"" + std::string(role) + "\" reads column \"" + column +
                                     "\", which dataset " + dataset.name + " does not have (it has: " + listed + ")");
    }
  }
  return common::Status::Ok();
}

}  // namespace

void ReadConfig(common::ConfigReader& reader, TaskLimits& limits) {
  reader.Optional("min_duration_seconds", limits.min_duration_s)
      .Optional("max_duration_seconds", limits.max_duration_s)
      .Check(limits.min_duration_s >= 1, "min_duration_seconds", "must be at least 1")
      .Check(limits.max_duration_s >= limits.min_duration_s && limits.max_duration_s <= 604'800, "max_duration_seconds",
             "must be between min_duration_seconds and 604800 (a week)");
}

common::Result<TaskRecord> CreateTask(CatalogStore& catalog_store, TaskStore& task_store, const BlobStore& blobs,
                                      const NewTask& request, const TaskLimits& limits, int64_t now_ms) {
  const TypeRoles* roles = nullptr;
  GRADIENTS_RETURN_IF_ERROR(CheckRequest(request, limits, roles));
  const std::string fingerprint = Fingerprint(request);
  auto earlier = [&]() -> common::Result<TaskRecord> {
    common::Result<TaskRecord> task = task_store.GetTaskByRequestId(request.request_id);
    if (!task.ok()) return task.status();
    if (task->request_fingerprint != fingerprint) {
      return common::Status::AlreadyExists("request_id \"" + request.request_id + "\" was used for another request (task " +
                                   task->id + ")");
    }
    return task;
  };
  if (!request.request_id.empty()) {
    common::Result<TaskRecord> task = earlier();
    if (task.ok() || task.status().code() != common::StatusCode::kNotFound) return task;
  }
  common::Result<ModelRecord> model = ResolveModel(catalog_store, blobs, request.base_model, now_ms);
  if (!model.ok()) return model.status();
  common::Result<DatasetRecord> dataset = ResolveDataset(catalog_store, blobs, request.dataset, now_ms);
  if (!dataset.ok()) return dataset.status();
  GRADIENTS_RETURN_IF_ERROR(CheckColumns(request, *roles, *dataset, blobs));

  std::array<uint8_t, 8> id{};
  common::FillRandom(id);
  const TaskRecord task{.id = "task-" + common::ToHex(id),
                        .type = request.type,
                        .model_hash = model->hash,
                        .dataset_hash = dataset->hash,
                        .columns = text::ColumnMapping{.columns = request.columns},
                        .duration_s = request.duration_s,
                        .pool_size = request.max_pool_size,
                        .min_pool_size = request.min_pool_size,
                        .max_training_tokens = request.max_training_tokens,
                        .created_at_ms = now_ms,
                        .updated_at_ms = now_ms,
                        .request_id = request.request_id,
                        .request_fingerprint = fingerprint};
  common::Status created = task_store.CreateTask(task);
  // Another create under the same key may have won the race: its task is the answer.
  if (!created.ok() && !request.request_id.empty() && created.code() == common::StatusCode::kFailedPrecondition) return earlier();
  if (!created.ok()) return created;
  return task_store.GetTask(task.id);
}

}  // namespace gradients::validator
