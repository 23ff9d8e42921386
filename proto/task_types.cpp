#include "proto/task_types.h"

#include <array>
#include <utility>

namespace gradients::proto {
namespace {

constexpr std::array<std::pair<std::string_view, v1::TaskType>, 6> kTypes = {{
    {"instruct", v1::TASK_TYPE_INSTRUCT},
    {"chat", v1::TASK_TYPE_CHAT},
    {"text", v1::TASK_TYPE_TEXT},
    {"dpo", v1::TASK_TYPE_DPO},
    {"grpo", v1::TASK_TYPE_GRPO},
    {"image", v1::TASK_TYPE_IMAGE},
}};

}  // namespace

v1::TaskType ToProtoType(std::string_view type) {
  for (const auto& [name, value] : kTypes) {
    if (name == type) return value;
  }
  return v1::TASK_TYPE_UNSPECIFIED;
}

std::string_view TaskTypeName(v1::TaskType type) {
  for (const auto& [name, value] : kTypes) {
    if (value == type) return name;
  }
  return "";
}

}  // namespace gradients::proto
