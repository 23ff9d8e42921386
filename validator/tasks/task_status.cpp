#include "validator/tasks/task_status.h"

#include <array>
#include <string>
#include <utility>

namespace gradients::validator {
namespace {

constexpr std::array<std::pair<TaskStatus, std::string_view>, 7> kNames = {{
    {TaskStatus::kPending, "pending"},
    {TaskStatus::kPreparing, "preparing"},
    {TaskStatus::kOffering, "offering"},
    {TaskStatus::kTraining, "training"},
    {TaskStatus::kEvaluating, "evaluating"},
    {TaskStatus::kScored, "scored"},
    {TaskStatus::kFailed, "failed"},
}};

}  // namespace

std::string_view TaskStatusName(TaskStatus status) {
  for (const auto& [value, name] : kNames) {
    if (value == status) return name;
  }
  return "unknown";
}

common::Result<TaskStatus> ParseTaskStatus(std::string_view name) {
  for (const auto& [value, known] : kNames) {
    if (known == name) return value;
  }
  return common::Status::InvalidArgument("unknown task status \"" + std::string(name.substr(0, 40)) +
                                 "\" (expected pending, preparing, offering, training, evaluating, scored or failed)");
}

bool IsTerminal(TaskStatus status) { return status == TaskStatus::kScored || status == TaskStatus::kFailed; }

bool IsAllowedTransition(TaskStatus from, TaskStatus to) {
  if (IsTerminal(from)) return false;
  if (to == TaskStatus::kFailed) return true;
  return static_cast<int>(to) == static_cast<int>(from) + 1;
}

}  // namespace gradients::validator
