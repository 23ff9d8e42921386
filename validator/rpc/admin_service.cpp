#include "validator/rpc/admin_service.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <tuple>

#include <google/protobuf/util/json_util.h>

#include "common/keys.h"
#include "common/utf8.h"
#include "proto/grpc_status.h"
#include "proto/timestamps.h"
#include "validator/market/claim_outcomes.h"
#include "validator/rewards/leaderboard.h"
#include "validator/rewards/weight_sets.h"
#include "validator/rpc/page_tokens.h"
#include "validator/tasks/task_creation.h"
#include "validator/tasks/task_spec.h"

namespace gradients::validator {
namespace {

constexpr size_t kMaxReasonBytes = 512;

// Equal or not, without an early exit that would tell a caller how much of a guess was right.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // a bearer token's length is not the secret
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

}  // namespace

AdminService::AdminService(Store& store, const BlobStore& blobs, AdminServiceOptions options, common::ClockMs now_ms)
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

common::Status AdminService::ToProto(const TaskRecord& task, v1::Task* out) {
  common::Result<ModelRecord> model = store_.GetModel(task.model_hash);
  if (!model.ok()) return model.status();
  common::Result<DatasetRecord> dataset = store_.GetDataset(task.dataset_hash);
  if (!dataset.ok()) return dataset.status();
  GRADIENTS_RETURN_IF_ERROR(FillTaskSpec(task, *model, *dataset, out->mutable_spec()));
  out->set_status(ToProtoStatus(task.status));
  out->set_failure_reason(common::ToValidUtf8(task.failure_reason.substr(0, kMaxReasonBytes)));
  out->set_dataset_name(common::ToValidUtf8(dataset->name));
  GRADIENTS_RETURN_IF_ERROR(SetDigest(dataset->hash, out->mutable_dataset_digest()));
  out->set_test_rows(static_cast<uint64_t>(task.test_rows));  // the count only, never the rows or the seed
  out->set_min_pool_size(static_cast<uint32_t>(task.min_pool_size));
  out->set_max_pool_size(static_cast<uint32_t>(task.pool_size));
  common::Result<std::vector<ClaimRecord>> claims = store_.ListClaims(task.id);
  if (!claims.ok()) return claims.status();
  out->set_claims(static_cast<uint32_t>(claims->size()));
  proto::SetTimestampMs(task.updated_at_ms, out->mutable_updated_at());
  return common::Status::Ok();
}

grpc::Status AdminService::Health(grpc::ServerContext* context, const v1::HealthRequest*, v1::HealthResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  response->set_status(v1::SERVING_STATUS_SERVING);
  response->set_version(options_.version);
  proto::SetDurationMs(std::max<int64_t>(0, now_ms_() - started_at_ms_), response->mutable_uptime());
  response->set_validator_id(options_.validator_id);
  response->set_connected_miners(static_cast<uint32_t>(options_.connected_miners()));
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateTask(grpc::ServerContext* context, const v1::CreateTaskRequest* request,
                                      v1::CreateTaskResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  if (request->base_model().size() > 1024 || request->dataset().size() > 1024) {
    return proto::ToGrpcStatus(common::Status::InvalidArgument("base_model and dataset: at most 1024 bytes each"));
  }
  NewTask task{.type = {},
               .base_model = request->base_model(),
               .dataset = request->dataset(),
               .columns = {request->column_mapping().columns().begin(), request->column_mapping().columns().end()},
               .duration_s = request->duration_seconds(),
               .min_pool_size = request->min_pool_size(),
               .max_pool_size = request->max_pool_size(),
               .max_training_tokens = static_cast<int64_t>(std::min<uint64_t>(request->max_training_tokens(), LLONG_MAX)),
               .request_id = request->request_id()};
  task.type = proto::TaskTypeName(request->type());
  common::Result<TaskRecord> created =
      gradients::validator::CreateTask(store_, store_, blobs_, task, options_.task_limits, now_ms_());
  if (!created.ok()) return proto::ToGrpcStatus(created.status());
  options_.task_created();
  return proto::ToGrpcStatus(ToProto(*created, response->mutable_task()));
}

grpc::Status AdminService::GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                                   v1::GetTaskResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  common::Result<TaskRecord> task = store_.GetTask(request->task_id());
  if (!task.ok()) return proto::ToGrpcStatus(task.status());
  if (common::Status status = ToProto(*task, response->mutable_task()); !status.ok()) return proto::ToGrpcStatus(status);
  common::Result<std::vector<ClaimOutcome>> outcomes = ListClaimOutcomes(store_, store_, store_, *task);
  if (!outcomes.ok()) return proto::ToGrpcStatus(outcomes.status());
  // Submissions by rank (the ranked first), then by receipt time; claims with nothing to show
  // (no upload yet, before the deadline) have no submission entry.
  std::vector<const ClaimOutcome*> shown;
  for (const ClaimOutcome& outcome : *outcomes) {
    if (common::Status status = FillAssignment(outcome, response->add_assignments()); !status.ok()) return proto::ToGrpcStatus(status);
    if (outcome.submission || outcome.evaluation) shown.push_back(&outcome);
  }
  std::stable_sort(shown.begin(), shown.end(), [](const ClaimOutcome* a, const ClaimOutcome* b) {
    const int64_t rank_a = a->evaluation && a->evaluation->rank > 0 ? a->evaluation->rank : INT64_MAX;
    const int64_t rank_b = b->evaluation && b->evaluation->rank > 0 ? b->evaluation->rank : INT64_MAX;
    const int64_t at_a = a->submission ? a->submission->received_at_ms : INT64_MAX;
    const int64_t at_b = b->submission ? b->submission->received_at_ms : INT64_MAX;
    return std::tie(rank_a, at_a) < std::tie(rank_b, at_b);
  });
  for (const ClaimOutcome* outcome : shown) {
    if (common::Status status = FillSubmission(*outcome, task->status, response->add_submissions()); !status.ok()) {
      return proto::ToGrpcStatus(status);
    }
  }
  response->mutable_task()->set_submissions(static_cast<uint32_t>(
      std::count_if(outcomes->begin(), outcomes->end(), [](const ClaimOutcome& o) { return o.submission.has_value(); })));
  return grpc::Status::OK;
}

grpc::Status AdminService::ListTasks(grpc::ServerContext* context, const v1::ListTasksRequest* request,
                                     v1::ListTasksResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  common::Result<int64_t> requested_size = PageSize(request->page_size());
  if (!requested_size.ok()) return proto::ToGrpcStatus(requested_size.status());
  const size_t page_size = static_cast<size_t>(*requested_size);
  // The token names the last task of the page, tied to the filter it was made for: the next page
  // starts after that task, wherever newer tasks have pushed it.
  std::string filter = std::to_string(static_cast<int>(request->type()));
  for (int status : request->statuses()) filter += "," + std::to_string(status);
  std::string after;
  if (!request->page_token().empty()) {
    const size_t bar = request->page_token().rfind('|');
    if (bar == std::string::npos || request->page_token().substr(bar + 1) != filter) {
      return proto::ToGrpcStatus(common::Status::InvalidArgument("page_token: not from a listing with this filter"));
    }
    after = request->page_token().substr(0, bar);
  }
  common::Result<std::vector<TaskRecord>> tasks = store_.ListTasks(std::nullopt);
  if (!tasks.ok()) return proto::ToGrpcStatus(tasks.status());
  std::vector<const TaskRecord*> matching;
  for (auto it = tasks->rbegin(); it != tasks->rend(); ++it) {  // newest first
    const bool type_ok = request->type() == v1::TASK_TYPE_UNSPECIFIED || proto::ToProtoType(it->type) == request->type();
    const bool status_ok = request->statuses().empty() ||
                           std::find(request->statuses().begin(), request->statuses().end(),
                                     ToProtoStatus(it->status)) != request->statuses().end();
    if (type_ok && status_ok) matching.push_back(&*it);
  }
  size_t start = 0;
  if (!after.empty()) {
    // The task may have left the filter since (a status change): then the page starts after the
    // position it had among all tasks.
    size_t position = 0;
    while (position < tasks->size() && (*tasks)[tasks->size() - 1 - position].id != after) ++position;
    if (position == tasks->size()) return proto::ToGrpcStatus(common::Status::InvalidArgument("page_token: unknown task"));
    const TaskRecord* last = &(*tasks)[tasks->size() - 1 - position];
    while (start < matching.size() && matching[start] >= last) ++start;  // newest first: addresses descend
  }
  const size_t end = std::min(matching.size(), start + page_size);
  for (size_t i = start; i < end; ++i) {
    if (common::Status status = ToProto(*matching[i], response->add_tasks()); !status.ok()) return proto::ToGrpcStatus(status);
  }
  if (end < matching.size()) response->set_next_page_token(matching[end - 1]->id + "|" + filter);
  return grpc::Status::OK;
}

grpc::Status AdminService::CancelTask(grpc::ServerContext* context, const v1::CancelTaskRequest* request,
                                      v1::CancelTaskResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  const std::string prefix = "cancelled by the operator";
  if (request->reason().size() + prefix.size() + 2 > kMaxReasonBytes) {
    return proto::ToGrpcStatus(common::Status::InvalidArgument("reason: at most " +
                                                std::to_string(kMaxReasonBytes - prefix.size() - 2) + " bytes"));
  }
  const std::string reason = prefix + (request->reason().empty() ? "" : ": " + common::ToValidUtf8(request->reason()));
  // Compare and set, again while the task moves on (the preparer may take it meanwhile); a task
  // moves a few steps at most.
  for (int attempt = 0;; ++attempt) {
    common::Result<TaskRecord> task = store_.GetTask(request->task_id());
    if (!task.ok()) return proto::ToGrpcStatus(task.status());
    if (IsTerminal(task->status)) {
      return proto::ToGrpcStatus(common::Status::FailedPrecondition("task " + task->id + " is already " +
                                                     std::string(TaskStatusName(task->status))));
    }
    common::Status status = store_.TransitionTask(task->id, task->status, TaskStatus::kFailed, reason, now_ms_());
    if (status.code() == common::StatusCode::kFailedPrecondition && attempt < 8) continue;  // it moved: look again
    if (!status.ok()) return proto::ToGrpcStatus(status);
    common::Result<TaskRecord> cancelled = store_.GetTask(task->id);
    if (!cancelled.ok()) return proto::ToGrpcStatus(cancelled.status());
    return proto::ToGrpcStatus(ToProto(*cancelled, response->mutable_task()));
  }
}

namespace {

common::Status WeightSetToProto(const WeightSetRecord& set, v1::WeightSet* out) {
  out->set_id(static_cast<uint64_t>(set.id));
  proto::SetTimestampMs(set.computed_at_ms, out->mutable_computed_at());
  proto::SetTimestampMs(set.window_start_ms, out->mutable_window_start());
  proto::SetTimestampMs(set.window_end_ms, out->mutable_window_end());
  for (const auto& [miner, weight] : set.weights) {
    common::Result<common::PublicKey> key = common::PublicKey::FromHex(miner);
    if (!key.ok()) return common::Status::DataLoss("weight set " + std::to_string(set.id) + ": miner " + miner.substr(0, 80));
    v1::MinerWeight* entry = out->add_weights();
    entry->set_miner_public_key(std::string(key->bytes.begin(), key->bytes.end()));
    entry->set_weight(weight);
  }
  GRADIENTS_RETURN_IF_ERROR(SetDigest(set.inputs_digest, out->mutable_inputs_digest()));
  out->set_published_to(common::ToValidUtf8(set.published_to.substr(0, 256)));
  if (set.published_at_ms > 0) proto::SetTimestampMs(set.published_at_ms, out->mutable_published_at());
  return common::Status::Ok();
}

}  // namespace

grpc::Status AdminService::GetCurrentWeights(grpc::ServerContext* context, const v1::GetCurrentWeightsRequest*,
                                             v1::GetCurrentWeightsResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  common::Result<WeightSetRecord> latest = store_.LatestWeightSet();
  if (!latest.ok()) return proto::ToGrpcStatus(latest.status());
  return proto::ToGrpcStatus(WeightSetToProto(*latest, response->mutable_weights()));
}

grpc::Status AdminService::ListWeightHistory(grpc::ServerContext* context, const v1::ListWeightHistoryRequest* request,
                                             v1::ListWeightHistoryResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  common::Result<int64_t> requested_size = PageSize(request->page_size());
  if (!requested_size.ok()) return proto::ToGrpcStatus(requested_size.status());
  const int64_t page_size = *requested_size;
  common::Result<int64_t> before_id_token = ParseNumberPageToken(request->page_token());
  if (!before_id_token.ok()) return proto::ToGrpcStatus(before_id_token.status());
  const int64_t before_id = *before_id_token;
  int64_t since_ms = 0;
  if (request->has_since()) {
    common::Result<int64_t> since = proto::TimestampMs(request->since());
    if (!since.ok()) return proto::ToGrpcStatus(since.status().WithContext("since"));
    since_ms = *since;
  }
  common::Result<std::vector<WeightSetRecord>> sets = store_.ListWeightSets(since_ms, before_id, page_size + 1);
  if (!sets.ok()) return proto::ToGrpcStatus(sets.status());
  for (size_t i = 0; i < sets->size() && static_cast<int64_t>(i) < page_size; ++i) {
    if (common::Status status = WeightSetToProto((*sets)[i], response->add_weight_sets()); !status.ok()) {
      return proto::ToGrpcStatus(status);
    }
  }
  if (static_cast<int64_t>(sets->size()) > page_size) {
    response->set_next_page_token(std::to_string((*sets)[static_cast<size_t>(page_size) - 1].id));
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListMiners(grpc::ServerContext* context, const v1::ListMinersRequest* request,
                                      v1::ListMinersResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  common::Result<int64_t> requested_size = PageSize(request->page_size());
  if (!requested_size.ok()) return proto::ToGrpcStatus(requested_size.status());
  const int64_t page_size = *requested_size;
  common::Result<int64_t> offset_token = ParseNumberPageToken(request->page_token());
  if (!offset_token.ok()) return proto::ToGrpcStatus(offset_token.status());
  const int64_t offset = *offset_token;
  common::Result<std::vector<MinerRecord>> miners = store_.ListMiners(offset, page_size + 1);
  if (!miners.ok()) return proto::ToGrpcStatus(miners.status());
  for (size_t i = 0; i < miners->size() && static_cast<int64_t>(i) < page_size; ++i) {
    const MinerRecord& miner = (*miners)[i];
    common::Result<common::PublicKey> key = common::PublicKey::FromHex(miner.key);
    if (!key.ok()) return proto::ToGrpcStatus(common::Status::DataLoss("stored miner key " + miner.key.substr(0, 80)));
    v1::MinerInfo* info = response->add_miners();
    info->set_public_key(std::string(key->bytes.begin(), key->bytes.end()));
    proto::SetTimestampMs(miner.first_seen_ms, info->mutable_first_seen());
    proto::SetTimestampMs(miner.last_seen_ms, info->mutable_last_seen());
    if (!miner.capacity.empty() &&
        !google::protobuf::util::JsonStringToMessage(miner.capacity, info->mutable_capacity()).ok()) {
      info->clear_capacity();
    }
    info->set_connected(options_.is_connected(miner.key));
    info->set_client_version(common::ToValidUtf8(miner.client_version));
    info->set_active_claims(static_cast<uint32_t>(miner.active_claims));
    info->set_total_claims(static_cast<uint64_t>(miner.total_claims));
    info->set_total_submissions(static_cast<uint64_t>(miner.total_submissions));
    info->set_total_points(miner.total_points);
  }
  if (static_cast<int64_t>(miners->size()) > page_size) response->set_next_page_token(std::to_string(offset + page_size));
  return grpc::Status::OK;
}

grpc::Status AdminService::GetLeaderboard(grpc::ServerContext* context, const v1::GetLeaderboardRequest* request,
                                          v1::GetLeaderboardResponse* response) {
  if (grpc::Status denied = CheckToken(*context); !denied.ok()) return denied;
  constexpr uint32_t kDefaultEntries = 100, kMaxEntries = 1000;
  if (request->limit() > kMaxEntries) return proto::ToGrpcStatus(common::Status::InvalidArgument("limit: at most 1000"));
  int64_t window_ms = options_.leaderboard_window_ms;
  if (request->has_window()) {
    const google::protobuf::Duration& window = request->window();
    if (window.seconds() <= 0 || window.seconds() > 366LL * 86'400 || window.nanos() < 0 || window.nanos() >= 1'000'000'000) {
      return proto::ToGrpcStatus(common::Status::InvalidArgument("window: between a second and a year"));
    }
    window_ms = window.seconds() * 1000 + window.nanos() / 1'000'000;
  }
  std::string type;
  if (request->type() != v1::TASK_TYPE_UNSPECIFIED) {
    type = std::string(proto::TaskTypeName(request->type()));
    if (type.empty()) return proto::ToGrpcStatus(common::Status::InvalidArgument("type: unknown"));
  }
  const int64_t now = now_ms_();
  common::Result<std::vector<ScoredTask>> tasks = ListScoredTasks(store_, store_, store_, now - window_ms, now);
  if (!tasks.ok()) return proto::ToGrpcStatus(tasks.status());
  const std::vector<LeaderboardEntry> ranked = RankMiners(*tasks, type);
  const uint32_t limit = request->limit() == 0 ? kDefaultEntries : request->limit();
  for (size_t i = 0; i < ranked.size() && i < limit; ++i) {
    common::Result<common::PublicKey> key = common::PublicKey::FromHex(ranked[i].miner);
    if (!key.ok()) return proto::ToGrpcStatus(common::Status::DataLoss("stored miner key " + ranked[i].miner.substr(0, 80)));
    v1::LeaderboardEntry* entry = response->add_entries();
    entry->set_position(static_cast<uint32_t>(i + 1));
    entry->set_miner_public_key(std::string(key->bytes.begin(), key->bytes.end()));
    entry->set_score(ranked[i].score);
    entry->set_points(ranked[i].points);
    entry->set_tasks_scored(static_cast<uint32_t>(ranked[i].tasks_scored));
    entry->set_first_places(static_cast<uint32_t>(ranked[i].first_places));
  }
  proto::SetTimestampMs(now - window_ms, response->mutable_window_start());
  proto::SetTimestampMs(now, response->mutable_window_end());
  return grpc::Status::OK;
}

}  // namespace gradients::validator
