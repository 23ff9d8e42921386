#include "common/clock.h"

#include <chrono>

namespace gradients::common {

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gradients::common
