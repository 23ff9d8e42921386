// The Admin gRPC service (proto/gradients/v1/admin.proto) for the validator's operator: thin
// handlers over the whole Store (the operator sees every record family), serving every call of the
// service. When the validator listens for Admin beyond loopback, every call must carry
// "authorization: Bearer <token>" (compared in constant time); on loopback no token is needed.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "validator/state/blob_store.h"
#include "validator/state/store.h"
#include "validator/tasks/task_creation.h"

namespace gradients::validator {

struct AdminServiceOptions {
  std::string validator_id;
  std::string version;
  std::optional<std::string> token;  // required of callers when set
  std::function<void()> task_created = [] {};  // wakes whoever prepares new tasks
  std::function<size_t()> connected_miners = [] { return size_t{0}; };  // open offer streams
  std::function<bool(const std::string&)> is_connected = [](const std::string&) { return false; };
  int64_t leaderboard_window_ms = 7 * 86'400'000;  // the weights' longest window
  TaskLimits task_limits{};
};

class AdminService final : public v1::Admin::Service {
 public:
  AdminService(Store& store, const BlobStore& blobs, AdminServiceOptions options, common::ClockMs now_ms);

  grpc::Status Health(grpc::ServerContext* context, const v1::HealthRequest* request,
                      v1::HealthResponse* response) override;
  grpc::Status CreateTask(grpc::ServerContext* context, const v1::CreateTaskRequest* request,
                          v1::CreateTaskResponse* response) override;
  grpc::Status GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                       v1::GetTaskResponse* response) override;
  grpc::Status ListTasks(grpc::ServerContext* context, const v1::ListTasksRequest* request,
                         v1::ListTasksResponse* response) override;
  grpc::Status CancelTask(grpc::ServerContext* context, const v1::CancelTaskRequest* request,
                          v1::CancelTaskResponse* response) override;
  grpc::Status ListMiners(grpc::ServerContext* context, const v1::ListMinersRequest* request,
                          v1::ListMinersResponse* response) override;
  grpc::Status GetLeaderboard(grpc::ServerContext* context, const v1::GetLeaderboardRequest* request,
                              v1::GetLeaderboardResponse* response) override;
  grpc::Status GetCurrentWeights(grpc::ServerContext* context, const v1::GetCurrentWeightsRequest* request,
                                 v1::GetCurrentWeightsResponse* response) override;
  grpc::Status ListWeightHistory(grpc::ServerContext* context, const v1::ListWeightHistoryRequest* request,
                                 v1::ListWeightHistoryResponse* response) override;

 private:
  grpc::Status CheckToken(const grpc::ServerContext& context) const;
  common::Status ToProto(const TaskRecord& task, v1::Task* out);

  Store& store_;
  const BlobStore& blobs_;
  const AdminServiceOptions options_;
  common::ClockMs now_ms_;
  const int64_t started_at_ms_;
};

}  // namespace gradients::validator
