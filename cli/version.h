#pragma once

#include <string>

namespace gradients::cli {

// "gradients 0.1.0 (libsodium 1.0.18)": the project version and the libraries it runs with.
std::string VersionString();

}  // namespace gradients::cli
