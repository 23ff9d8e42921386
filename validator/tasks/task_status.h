// A task's life: pending -> preparing -> offering -> training -> evaluating -> scored, or failed (with
// a reason) from any status before scored (DESIGN.md, Task).
#pragma once

#include <string_view>

#include "common/status.h"

namespace gradients::validator {

enum class TaskStatus { kPending, kPreparing, kOffering, kTraining, kEvaluating, kScored, kFailed };

std::string_view TaskStatusName(TaskStatus status);  // "pending", "preparing", ...
common::Result<TaskStatus> ParseTaskStatus(std::string_view name);

// Scored and failed tasks never change again.
bool IsTerminal(TaskStatus status);

// One step forward along the chain, or to failed from any status that is not terminal.
bool IsAllowedTransition(TaskStatus from, TaskStatus to);

}  // namespace gradients::validator
