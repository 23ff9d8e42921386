// Where the Admin service (gradients.v1.Admin) listens unless configured otherwise: the validator
// binds it there, and the CLI and the testnet reach it there. One definition, so they cannot drift.
#pragma once

#include <string_view>

namespace gradients::proto {

// Loopback: a caller on the same machine needs no token.
inline constexpr std::string_view kDefaultAdminAddress = "127.0.0.1:7401";

}  // namespace gradients::proto
