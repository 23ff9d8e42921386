// SplitMix64: a tiny, fast generator whose sequence is fixed by its seed on every platform (the
// standard library's distributions are not), for draws that must replay exactly.
#pragma once

#include <cstdint>

namespace gradients::common {

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace gradients::common
