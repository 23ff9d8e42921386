#include "cli/admin_commands.h"

#include <array>
#include <cctype>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "cli/command_failure.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "common/keys.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "proto/grpc_status.h"
#include "text/dataset.h"

namespace gradients::cli {
namespace {

// A stub and the token to present, or why there is none.
struct AdminClient {
  std::unique_ptr<v1::Admin::Stub> stub;
  std::string token;
  int64_t timeout_seconds = 30;

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }
};

common::Result<AdminClient> Connect(const AdminConnection& connection) {
  AdminClient client;
  client.timeout_seconds = connection.timeout_seconds;
  if (!connection.token_file.empty()) {
    common::Result<std::string> text = common::ReadFileToString(connection.token_file, 4096);
    if (!text.ok()) return text.status().WithContext("--token-file");
    const size_t begin = text->find_first_not_of(" \t\r\n"), end = text->find_last_not_of(" \t\r\n");
    if (begin == std::string::npos) return common::Status::InvalidArgument("--token-file: " + connection.token_file.string() + " is empty");
    client.token = text->substr(begin, end + 1 - begin);
  }
  client.stub = v1::Admin::NewStub(grpc::CreateChannel(connection.validator, grpc::InsecureChannelCredentials()));
  return client;
}

// The call's failure, with a hint when nothing answered.
common::Status CallFailure(const grpc::Status& status, const AdminConnection& connection) {
  common::Status failure = proto::FromGrpcStatus(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return common::Status(failure.code(), "no answer from a validator at " + connection.validator + " (is it running? its "
                                      "admin.listen?): " + failure.message());
  }
  return failure;
}

// "pending" -> "TASK_STATUS_PENDING": the protocol's enum value name for a command-line word.
std::string ProtoEnumName(std::string_view prefix, std::string_view word) {
  std::string name(prefix);
  for (char c : word) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

int PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out << json;
  return 0;
}

// One call: connect, run `call` with a fresh context, print the response or the failure.
template <typename Response, typename Call>
int Invoke(const AdminConnection& connection, std::string_view command, Call call, std::ostream& out,
           std::ostream& err) {
  common::Result<AdminClient> client = Connect(connection);
  if (!client.ok()) return Fail(err, command, client.status());
  Response response;
  const grpc::Status status = call(*client, response);
  if (!status.ok()) return Fail(err, command, CallFailure(status, connection));
  return PrintJson(response, out);
}

}  // namespace

int RunTaskList(const TaskListArgs& args, std::ostream& out, std::ostream& err) {
  v1::ListTasksRequest request;
  for (const std::string& name : args.statuses) {
    v1::TaskStatus status;
    if (!v1::TaskStatus_Parse(ProtoEnumName("TASK_STATUS_", name), &status) || status == v1::TASK_STATUS_UNSPECIFIED) {
      return Fail(err, "task list", common::Status::InvalidArgument("--status: unknown status \"" + name + "\""));
    }
    request.add_statuses(status);
  }
  if (!args.type.empty()) {
    v1::TaskType type;
    if (!v1::TaskType_Parse(ProtoEnumName("TASK_TYPE_", args.type), &type) || type == v1::TASK_TYPE_UNSPECIFIED) {
      return Fail(err, "task list", common::Status::InvalidArgument("--type: unknown task type \"" + args.type + "\""));
    }
    request.set_type(type);
  }
  if (args.limit < 1 || args.limit > 500) {
    return Fail(err, "task list", common::Status::InvalidArgument("--limit: between 1 and 500"));
  }
  request.set_page_size(static_cast<uint32_t>(args.limit));
  return Invoke<v1::ListTasksResponse>(
      args.connection, "task list",
      [&](const AdminClient& client, v1::ListTasksResponse& response) {
        return client.stub->ListTasks(client.Context().get(), request, &response);
      },
      out, err);
}

namespace {

// "3..8" -> {3, 8}; "4" -> {4, 4}.
common::Result<std::pair<uint32_t, uint32_t>> ParsePool(const std::string& text) {
  const size_t dots = text.find("..");
  try {
    size_t used = 0;
    const std::string low = dots == std::string::npos ? text : text.substr(0, dots);
    const std::string high = dots == std::string::npos ? text : text.substr(dots + 2);
    const unsigned long min = std::stoul(low, &used);
    if (used != low.size()) throw std::invalid_argument(low);
    const unsigned long max = std::stoul(high, &used);
    if (used != high.size() || max > 256) throw std::invalid_argument(high);
    return std::pair{static_cast<uint32_t>(min), static_cast<uint32_t>(max)};
  } catch (const std::exception&) {
    return common::Status::InvalidArgument("--pool: expected MIN..MAX or a number (at most 256), got \"" + text + "\"");
  }
}

}  // namespace

int RunTaskCreate(const TaskCreateArgs& args, std::ostream& out, std::ostream& err) {
  v1::CreateTaskRequest request;
  v1::TaskType type;
  if (!v1::TaskType_Parse(ProtoEnumName("TASK_TYPE_", args.type), &type) || type == v1::TASK_TYPE_UNSPECIFIED) {
    return Fail(err, "task create", common::Status::InvalidArgument("--type: unknown task type \"" + args.type + "\""));
  }
  common::Result<std::pair<uint32_t, uint32_t>> pool = ParsePool(args.pool);
  if (!pool.ok()) return Fail(err, "task create", pool.status());
  // The trainers' reading of the same flag (`gradients train --columns`), for the type's roles.
  common::Result<text::DatasetFormat> format = text::ParseDatasetFormat(args.type);
  if (!format.ok()) {
    return Fail(err, "task create",
                common::Status::InvalidArgument("--type: \"" + args.type + "\" is not a task type miners train (instruct, chat "
                                        "or text)"));
  }
  common::Result<text::ColumnMapping> columns = text::ParseColumnMapping(args.columns, *format);
  if (!columns.ok()) return Fail(err, "task create", columns.status().WithContext("--columns"));
  if (args.minutes < 0 || args.minutes > 100000 || args.seconds < -1 || args.seconds > 6'000'000 || args.max_tokens < 0) {
    return Fail(err, "task create", common::Status::InvalidArgument("--minutes, --seconds and --max-tokens: not negative"));
  }
  request.set_type(type);
  request.set_base_model(args.model);
  request.set_dataset(args.dataset);
  request.mutable_column_mapping()->mutable_columns()->insert(columns->columns.begin(), columns->columns.end());
  request.set_duration_seconds(static_cast<uint32_t>(args.seconds >= 0 ? args.seconds : args.minutes * 60));
  request.set_min_pool_size(pool->first);
  request.set_max_pool_size(pool->second);
  if (args.max_tokens > 0) request.set_max_training_tokens(static_cast<uint64_t>(args.max_tokens));
  // Always an idempotency key, so that a retry after a lost answer finds the task it created.
  std::string request_id = args.request_id;
  if (request_id.empty()) {
    std::array<uint8_t, 12> random{};
    common::FillRandom(random);
    request_id = common::ToHex(random);
    err << "gradients task create: request id " << request_id << " (to retry without a second task: --request-id "
        << request_id << ")\n";
  }
  request.set_request_id(request_id);
  return Invoke<v1::CreateTaskResponse>(
      args.connection, "task create",
      [&](const AdminClient& client, v1::CreateTaskResponse& response) {
        return client.stub->CreateTask(client.Context().get(), request, &response);
      },
      out, err);
}

int RunTaskShow(const AdminConnection& connection, const std::string& task_id, std::ostream& out, std::ostream& err) {
  v1::GetTaskRequest request;
  request.set_task_id(task_id);
  return Invoke<v1::GetTaskResponse>(
      connection, "task show",
      [&](const AdminClient& client, v1::GetTaskResponse& response) {
        return client.stub->GetTask(client.Context().get(), request, &response);
      },
      out, err);
}

int RunTaskCancel(const AdminConnection& connection, const std::string& task_id, const std::string& reason,
                  std::ostream& out, std::ostream& err) {
  v1::CancelTaskRequest request;
  request.set_task_id(task_id);
  request.set_reason(reason);
  return Invoke<v1::CancelTaskResponse>(
      connection, "task cancel",
      [&](const AdminClient& client, v1::CancelTaskResponse& response) {
        return client.stub->CancelTask(client.Context().get(), request, &response);
      },
      out, err);
}

int RunHealth(const AdminConnection& connection, std::ostream& out, std::ostream& err) {
  return Invoke<v1::HealthResponse>(
      connection, "health",
      [&](const AdminClient& client, v1::HealthResponse& response) {
        return client.stub->Health(client.Context().get(), v1::HealthRequest(), &response);
      },
      out, err);
}

int RunWeights(const AdminConnection& connection, int64_t history, std::ostream& out, std::ostream& err) {
  if (history <= 0) {
    return Invoke<v1::GetCurrentWeightsResponse>(
        connection, "weights",
        [&](const AdminClient& client, v1::GetCurrentWeightsResponse& response) {
          return client.stub->GetCurrentWeights(client.Context().get(), v1::GetCurrentWeightsRequest(), &response);
        },
        out, err);
  }
  if (history > 500) return Fail(err, "weights", common::Status::InvalidArgument("--history: at most 500"));
  v1::ListWeightHistoryRequest request;
  request.set_page_size(static_cast<uint32_t>(history));
  return Invoke<v1::ListWeightHistoryResponse>(
      connection, "weights",
      [&](const AdminClient& client, v1::ListWeightHistoryResponse& response) {
        return client.stub->ListWeightHistory(client.Context().get(), request, &response);
      },
      out, err);
}

int RunMiners(const AdminConnection& connection, int64_t limit, std::ostream& out, std::ostream& err) {
  if (limit < 1 || limit > 500) return Fail(err, "miners", common::Status::InvalidArgument("--limit: 1 to 500"));
  v1::ListMinersRequest request;
  request.set_page_size(static_cast<uint32_t>(limit));
  return Invoke<v1::ListMinersResponse>(
      connection, "miners",
      [&](const AdminClient& client, v1::ListMinersResponse& response) {
        return client.stub->ListMiners(client.Context().get(), request, &response);
      },
      out, err);
}

int RunLeaderboard(const AdminConnection& connection, const std::string& type, int64_t days, int64_t limit,
                   std::ostream& out, std::ostream& err) {
  v1::GetLeaderboardRequest request;
  if (!type.empty()) {
    v1::TaskType parsed = v1::TASK_TYPE_UNSPECIFIED;
    if (!v1::TaskType_Parse(ProtoEnumName("TASK_TYPE_", type), &parsed) || parsed == v1::TASK_TYPE_UNSPECIFIED) {
      return Fail(err, "leaderboard", common::Status::InvalidArgument("--type: unknown task type \"" + type + "\""));
    }
    request.set_type(parsed);
  }
  if (days < 0 || days > 366) return Fail(err, "leaderboard", common::Status::InvalidArgument("--days: 0 to 366"));
  if (days > 0) request.mutable_window()->set_seconds(days * 86'400);
  if (limit < 1 || limit > 1000) return Fail(err, "leaderboard", common::Status::InvalidArgument("--limit: 1 to 1000"));
  request.set_limit(static_cast<uint32_t>(limit));
  return Invoke<v1::GetLeaderboardResponse>(
      connection, "leaderboard",
      [&](const AdminClient& client, v1::GetLeaderboardResponse& response) {
        return client.stub->GetLeaderboard(client.Context().get(), request, &response);
      },
      out, err);
}

void AddConnectionOptions(CLI::App& command, AdminConnection& connection) {
  command.add_option("--validator", connection.validator, "The validator's admin address (admin.listen)")
      ->capture_default_str();
  command.add_option("--token-file", connection.token_file, "The admin token, when the validator is beyond loopback");
  command.add_option("--timeout", connection.timeout_seconds, "Seconds the call may take")->capture_default_str();
}

void AddAdminCommands(CLI::App& app) {
  CLI::App* task = app.add_subcommand("task", "A running validator's tasks");
  task->require_subcommand(1);
  auto task_list_args = std::make_shared<TaskListArgs>();
  CLI::App* task_list = task->add_subcommand("list", "List tasks, newest first, as JSON");
  AddConnectionOptions(*task_list, task_list_args->connection);
  task_list->add_option("--status", task_list_args->statuses,
                        "Only these statuses (pending, preparing, offering, "
                        "training, evaluating, scored, failed); repeatable");
  task_list->add_option("--type", task_list_args->type, "Only this type (instruct, chat, text, ...)");
  task_list->add_option("--limit", task_list_args->limit, "Most tasks to list (1 to 500)")->capture_default_str();
  task_list->callback([task_list_args] { ExitWith(RunTaskList(*task_list_args, std::cout, std::cerr)); });

  auto task_create_args = std::make_shared<TaskCreateArgs>();
  // Registering a model given by path copies and hashes it inside the call: minutes, not seconds.
  task_create_args->connection.timeout_seconds = 600;
  CLI::App* task_create = task->add_subcommand(
      "create", "Create a task; the validator splits its dataset and offers it to miners (prints it as JSON)");
  AddConnectionOptions(*task_create, task_create_args->connection);
  task_create->add_option("--type", task_create_args->type, "instruct, chat or text")->required();
  task_create
      ->add_option("--model", task_create_args->model,
                   "A registered model's name, or a model directory on the validator's host")
      ->required();
  task_create
      ->add_option("--dataset", task_create_args->dataset,
                   "A registered dataset's name, or a .jsonl/.csv file on the validator's host")
      ->required();
  task_create->add_option("--columns", task_create_args->columns,
                          "Role to column mapping, e.g. instruction=q,output=a (roles not mapped read their own name)");
  CLI::Option* minutes = task_create
                             ->add_option("--minutes", task_create_args->minutes,
                                          "Training time miners get (10 to 10080 unless the validator allows "
                                          "shorter tasks)")
                             ->capture_default_str();
  task_create->add_option("--seconds", task_create_args->seconds, "Training time in seconds, instead of --minutes")
      ->excludes(minutes);
  task_create->add_option("--pool", task_create_args->pool, "Miners per task, MIN..MAX (or one number)")
      ->capture_default_str();
  task_create->add_option("--max-tokens", task_create_args->max_tokens, "A training-token budget for miners (0: none)")
      ->capture_default_str();
  task_create->add_option("--request-id", task_create_args->request_id,
                          "An idempotency key: repeating the same create returns the same task (default: a new "
                          "random one, printed on stderr)");
  task_create->callback([task_create_args] { ExitWith(RunTaskCreate(*task_create_args, std::cout, std::cerr)); });

  struct TaskCall {
    AdminConnection connection;
    std::string task_id;
    std::string cancel_reason;
  };
  auto show = std::make_shared<TaskCall>();
  CLI::App* task_show = task->add_subcommand("show", "Show one task as JSON");
  AddConnectionOptions(*task_show, show->connection);
  task_show->add_option("id", show->task_id, "The task")->required();
  task_show->callback([show] { ExitWith(RunTaskShow(show->connection, show->task_id, std::cout, std::cerr)); });
  auto cancel = std::make_shared<TaskCall>();
  CLI::App* task_cancel = task->add_subcommand("cancel", "Cancel a task: it fails with the reason");
  AddConnectionOptions(*task_cancel, cancel->connection);
  task_cancel->add_option("id", cancel->task_id, "The task")->required();
  task_cancel->add_option("--reason", cancel->cancel_reason, "Why (stored as the failure reason)");
  task_cancel->callback([cancel] {
    ExitWith(RunTaskCancel(cancel->connection, cancel->task_id, cancel->cancel_reason, std::cout, std::cerr));
  });

  auto health_connection = std::make_shared<AdminConnection>();
  CLI::App* health = app.add_subcommand("health", "A running validator's health, version and uptime as JSON");
  AddConnectionOptions(*health, *health_connection);
  health->callback([health_connection] { ExitWith(RunHealth(*health_connection, std::cout, std::cerr)); });

  struct ListCall {
    AdminConnection connection;
    std::string type;
    int64_t days = 0;
    int64_t limit = 0;
  };
  auto miners_call = std::make_shared<ListCall>();
  miners_call->limit = 50;
  CLI::App* miners = app.add_subcommand("miners", "The miners a running validator has seen, as JSON");
  AddConnectionOptions(*miners, miners_call->connection);
  miners->add_option("--limit", miners_call->limit, "Most miners to list")->capture_default_str();
  miners->callback([miners_call] {
    ExitWith(RunMiners(miners_call->connection, miners_call->limit, std::cout, std::cerr));
  });
  auto leaderboard_call = std::make_shared<ListCall>();
  leaderboard_call->limit = 100;
  CLI::App* leaderboard = app.add_subcommand("leaderboard", "Miners ranked by work-weighted points, as JSON");
  AddConnectionOptions(*leaderboard, leaderboard_call->connection);
  leaderboard->add_option("--type", leaderboard_call->type, "Only tasks of this type (instruct, chat, text)");
  leaderboard->add_option("--days", leaderboard_call->days, "The window in days (default: the weights' window)");
  leaderboard->add_option("--limit", leaderboard_call->limit, "Most entries")->capture_default_str();
  leaderboard->callback([leaderboard_call] {
    ExitWith(RunLeaderboard(leaderboard_call->connection, leaderboard_call->type, leaderboard_call->days,
                            leaderboard_call->limit, std::cout, std::cerr));
  });
}

}  // namespace gradients::cli
