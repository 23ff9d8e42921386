// The Admin service on a real gRPC server on loopback over a real SQLite store, called through the
// generated stub as the operator's `gradients` commands do.
#include "validator/rpc/admin_service.h"

#include <chrono>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "validator/state/sqlite_store.h"

namespace gradients::validator {
namespace {

class Admin : public ::testing::Test {
 protected:
  void Serve(std::optional<std::string> token) {
    store_ = std::move(*SqliteStore::Open(dir_ / "state.db"));
    blobs_ = std::make_unique<BlobStore>(*BlobStore::Open(dir_ / "blobs"));
    ASSERT_TRUE(store_->AddModel({.hash = std::string(64, 'a'), .name = "tiny",
                                  .files = {{.path = "config.json", .bytes = 10, .blob = std::string(64, 'b')}},
                                  .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->AddDataset({.hash = std::string(64, 'd'), .name = "qa", .format = "jsonl", .bytes = 100,
                                    .split_seed = "secret-seed", .added_at_ms = 1})
                    .ok());
    service_ = std::make_unique<AdminService>(
        *store_, *blobs_, AdminServiceOptions{.validator_id = "v1", .version = "0.1.0", .token = std::move(token)},
        [this] { return now_ms_; });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_GT(port, 0);
    stub_ = v1::Admin::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  void CreateTask(const std::string& id, const std::string& type = "instruct") {
    ASSERT_TRUE(store_->CreateTask({.id = id, .type = type, .model_hash = std::string(64, 'a'),
                                    .dataset_hash = std::string(64, 'd'), .columns = {.columns = {{"instruction", "q"}}},
                                    .duration_s = 1800, .pool_size = 3, .created_at_ms = now_ms_, .updated_at_ms = now_ms_})
                    .ok());
  }
  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }
  std::vector<std::string> Ids(const v1::ListTasksResponse& response) {
    std::vector<std::string> ids;
    for (const v1::Task& task : response.tasks()) ids.push_back(task.spec().task_id());
    return ids;
  }

  testing::TempDir dir_;
  int64_t now_ms_ = 1'700'000'000'000;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

TEST_F(Admin, ShowsATaskWithItsModelAndDatasetButNotItsSecrets) {
  Serve(std::nullopt);
  CreateTask("t1");
  v1::GetTaskRequest request;
  request.set_task_id("t1");
  v1::GetTaskResponse response;
  grpc::Status status = stub_->GetTask(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Task& task = response.task();
  EXPECT_EQ(task.spec().type(), v1::TASK_TYPE_INSTRUCT);
  EXPECT_EQ(task.spec().base_model_name(), "tiny");
  EXPECT_EQ(task.spec().base_model_files(0).file_name(), "config.json");
  EXPECT_EQ(task.spec().base_model_digest().value(), std::string(32, '\xaa'));
  EXPECT_EQ(task.spec().column_mapping().columns().at("instruction"), "q");
  EXPECT_EQ(task.status(), v1::TASK_STATUS_PENDING);
  EXPECT_EQ(task.dataset_name(), "qa");
  EXPECT_EQ(task.SerializeAsString().find("secret-seed"), std::string::npos);

  request.set_task_id("nope");
  EXPECT_EQ(stub_->GetTask(Context().get(), request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(Admin, ListsTasksNewestFirstByPagesAndFilters) {
  Serve(std::nullopt);
  for (const char* id : {"t1", "t2", "t3"}) CreateTask(id);
  CreateTask("c1", "chat");
  ASSERT_TRUE(store_->TransitionTask("t2", TaskStatus::kPending, TaskStatus::kPreparing, "", now_ms_).ok());

  v1::ListTasksRequest request;
  request.set_page_size(3);
  v1::ListTasksResponse first, second;
  ASSERT_TRUE(stub_->ListTasks(Context().get(), request, &first).ok());
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"c1", "t3", "t2"}));
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  ASSERT_TRUE(stub_->ListTasks(Context().get(), request, &second).ok());
  EXPECT_EQ(Ids(second), (std::vector<std::string>{"t1"}));
  EXPECT_TRUE(second.next_page_token().empty());

  v1::ListTasksRequest filtered;
  filtered.set_type(v1::TASK_TYPE_INSTRUCT);
  filtered.add_statuses(v1::TASK_STATUS_PENDING);
  v1::ListTasksResponse pending;
  ASSERT_TRUE(stub_->ListTasks(Context().get(), filtered, &pending).ok());
  EXPECT_EQ(Ids(pending), (std::vector<std::string>{"t3", "t1"}));
  filtered.set_page_token(first.next_page_token());  // made for another filter
  EXPECT_EQ(stub_->ListTasks(Context().get(), filtered, &pending).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(Admin, APageFollowsThePreviousOneWhileNewTasksArrive) {
  Serve(std::nullopt);
  for (const char* id : {"t1", "t2", "t3"}) CreateTask(id);
  v1::ListTasksRequest request;
  request.set_page_size(2);
  v1::ListTasksResponse first, second;
  ASSERT_TRUE(stub_->ListTasks(Context().get(), request, &first).ok());
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"t3", "t2"}));
  CreateTask("t4");  // newer than everything listed: it must not shift the next page
  request.set_page_token(first.next_page_token());
  ASSERT_TRUE(stub_->ListTasks(Context().get(), request, &second).ok());
  EXPECT_EQ(Ids(second), (std::vector<std::string>{"t1"}));
  request.set_page_token("garbage");
  EXPECT_EQ(stub_->ListTasks(Context().get(), request, &second).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(Admin, CancellingFailsTheTaskWithTheReasonOnce) {
  Serve(std::nullopt);
  CreateTask("t1");
  v1::CancelTaskRequest request;
  request.set_task_id("t1");
  request.set_reason("wrong dataset");
  v1::CancelTaskResponse response;
  grpc::Status status = stub_->CancelTask(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.task().status(), v1::TASK_STATUS_FAILED);
  EXPECT_EQ(response.task().failure_reason(), "cancelled by the operator: wrong dataset");
  EXPECT_EQ(store_->GetTask("t1")->status, TaskStatus::kFailed);

  status = stub_->CancelTask(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "task t1 is already failed");
  request.set_task_id("nope");
  EXPECT_EQ(stub_->CancelTask(Context().get(), request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  CreateTask("t2");
  request.set_task_id("t2");
  request.set_reason(std::string(500, 'x'));  // with the prefix, past the 512 bytes a reason may have
  EXPECT_EQ(stub_->CancelTask(Context().get(), request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string accents;
  for (int i = 0; i < 240; ++i) accents += "\xc3\xa9";  // "é" x 240: 480 bytes
  request.set_reason(accents);
  ASSERT_TRUE(stub_->CancelTask(Context().get(), request, &response).ok());
  v1::GetTaskRequest show;
  show.set_task_id("t2");
  v1::GetTaskResponse shown;
  ASSERT_TRUE(stub_->GetTask(Context().get(), show, &shown).ok());  // still a readable message
  EXPECT_EQ(shown.task().failure_reason(), "cancelled by the operator: " + accents);
}

TEST_F(Admin, WithATokenEveryCallMustCarryIt) {
  Serve("0123456789abcdef-token");
  v1::HealthRequest request;
  v1::HealthResponse response;
  EXPECT_EQ(stub_->Health(Context().get(), request, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->Health(Context("wrong-token-0123456").get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ListTasksResponse tasks;
  EXPECT_EQ(stub_->ListTasks(Context().get(), v1::ListTasksRequest(), &tasks).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  now_ms_ += 5'000;
  grpc::Status status = stub_->Health(Context("0123456789abcdef-token").get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), v1::SERVING_STATUS_SERVING);
  EXPECT_EQ(response.validator_id(), "v1");
  EXPECT_EQ(response.uptime().seconds(), 5);
}

}  // namespace
}  // namespace gradients::validator
