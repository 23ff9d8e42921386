// The operator's commands, clients of a running validator's Admin service:
//   gradients task create|list|show|cancel, gradients health, gradients miners, gradients leaderboard,
//   gradients weights.
// Each prints JSON (the protocol's messages in their JSON form) and returns the process exit code;
// errors go to `err` as "gradients <command>: <message>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "proto/admin_address.h"

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

struct AdminConnection {
  std::string validator{proto::kDefaultAdminAddress};  // the validator's admin.listen
  std::filesystem::path token_file;          // needed when the validator listens beyond loopback
  int64_t timeout_seconds = 30;              // every call's deadline
};

struct TaskListArgs {
  AdminConnection connection;
  std::vector<std::string> statuses;  // pending, preparing, ...; empty: all
  std::string type;                   // instruct, chat, ...; empty: all
  int64_t limit = 50;
};
int RunTaskList(const TaskListArgs& args, std::ostream& out, std::ostream& err);

struct TaskCreateArgs {
  AdminConnection connection;
  std::string type;     // instruct, chat or text
  std::string model;    // a registered model's name, or a model directory on the validator's host
  std::string dataset;  // a registered dataset's name, or a .jsonl/.csv file on the validator's host
  std::string columns;  // "instruction=q,output=a"; roles not mapped read their own name
  int64_t minutes = 60;
  int64_t seconds = -1;  // when given (>= 0), the training time instead of minutes (short tasks on a testnet)
  std::string pool = "1..8";  // "MIN..MAX", or one number for both
  int64_t max_tokens = 0;
  std::string request_id;  // empty: a random one, printed on stderr
};
int RunTaskCreate(const TaskCreateArgs& args, std::ostream& out, std::ostream& err);

int RunTaskShow(const AdminConnection& connection, const std::string& task_id, std::ostream& out, std::ostream& err);
int RunTaskCancel(const AdminConnection& connection, const std::string& task_id, const std::string& reason,
                  std::ostream& out, std::ostream& err);
int RunHealth(const AdminConnection& connection, std::ostream& out, std::ostream& err);
// The miners the validator has seen, most recently seen first.
int RunMiners(const AdminConnection& connection, int64_t limit, std::ostream& out, std::ostream& err);
// Miners ranked by work-weighted points over the last `days` (0: the weights' window), of one task
// type when `type` is set.
int RunLeaderboard(const AdminConnection& connection, const std::string& type, int64_t days, int64_t limit,
                   std::ostream& out, std::ostream& err);
// The latest weight set; with `history` > 0 the last `history` sets, newest first.
int RunWeights(const AdminConnection& connection, int64_t history, std::ostream& out, std::ostream& err);

// --validator, --token-file and --timeout on `command`, into `connection`.
void AddConnectionOptions(CLI::App& command, AdminConnection& connection);

// Declares `gradients task create|list|show|cancel`, `health`, `miners` and `leaderboard` on `app`
// (`weights`: weight_commands.h); each runs from its CLI11 callback and ends with its exit code.
void AddAdminCommands(CLI::App& app);

}  // namespace gradients::cli
