// Wall-clock time as this project stores it: milliseconds since the Unix epoch. Components take a
// ClockMs, so tests can hand them a clock they move themselves.
#pragma once

#include <cstdint>
#include <functional>

namespace gradients::common {

using ClockMs = std::function<int64_t()>;

// The system clock.
int64_t SystemClockMs();

}  // namespace gradients::common
