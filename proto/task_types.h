// Task type names (as configs, the store and the trainers' dataset formats spell them) and their
// protocol values, for both the validator and the miner.
#pragma once

#include <string_view>

#include "gradients/v1/task.pb.h"

namespace gradients::proto {

v1::TaskType ToProtoType(std::string_view type);   // UNSPECIFIED for an unknown name
std::string_view TaskTypeName(v1::TaskType type);  // "" for UNSPECIFIED

}  // namespace gradients::proto
