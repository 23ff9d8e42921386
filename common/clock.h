// Wall-clock time as this project stores it: milliseconds since the Unix epoch. Components take a
// ClockMs, so tests can hand them a clock they move themselves; a deadline travels as a time point,
// compared with the clock's reading through TimePointOfMs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace gradients::common {

using ClockMs = std::function<int64_t()>;

// The system clock.
int64_t SystemClockMs();

// Milliseconds since the Unix epoch as a time point (saturating at what system_clock holds, years
// 1678 to 2262), and back (rounded down to the millisecond).
std::chrono::system_clock::time_point TimePointOfMs(int64_t ms);
int64_t MsOfTimePoint(std::chrono::system_clock::time_point time);

}  // namespace gradients::common
