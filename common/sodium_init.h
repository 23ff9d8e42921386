// libsodium must be initialised once per process before its random generator is used and to
// select its fastest implementations; every module that calls libsodium goes through here.
#pragma once

#include <sodium.h>

#include <cstdlib>

namespace gradients::common {

inline void EnsureSodiumInitialized() {
  static const bool initialized = [] {
    if (sodium_init() < 0) std::abort();  // no usable random source: nothing safe can be done
    return true;
  }();
  (void)initialized;
}

}  // namespace gradients::common
