#include "common/clock.h"

#include <algorithm>

namespace gradients::common {

int64_t SystemClockMs() { return MsOfTimePoint(std::chrono::system_clock::now()); }

std::chrono::system_clock::time_point TimePointOfMs(int64_t ms) {
  using std::chrono::milliseconds;
  constexpr int64_t kMin = std::chrono::ceil<milliseconds>(std::chrono::system_clock::duration::min()).count();
  constexpr int64_t kMax = std::chrono::floor<milliseconds>(std::chrono::system_clock::duration::max()).count();
  return std::chrono::system_clock::time_point(milliseconds(std::clamp(ms, kMin, kMax)));
}

int64_t MsOfTimePoint(std::chrono::system_clock::time_point time) {
  return std::chrono::floor<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace gradients::common
