// Content digests: streaming BLAKE2b-256 (content addresses, manifests) and SHA-256 (what
// Hugging Face and most tooling publish), over buffers and files.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gradients::common {

enum class DigestAlgorithm { kBlake2b256, kSha256 };

std::string_view DigestAlgorithmName(DigestAlgorithm algorithm);  // "blake2b-256", "sha256"

using Digest = std::array<uint8_t, 32>;

// Incremental hashing: Update() any number of times, then Finish() once.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data);
  Digest Finish();

 private:
  struct State;
  DigestAlgorithm algorithm_;
  std::unique_ptr<State> state_;
};

Digest ComputeDigest(DigestAlgorithm algorithm, std::span<const uint8_t> data);
Digest ComputeDigest(DigestAlgorithm algorithm, std::string_view data);

// Streams the file through the hasher in fixed-size blocks; memory use does not grow with its size.
Result<Digest> DigestFile(DigestAlgorithm algorithm, const std::filesystem::path& path);

}  // namespace gradients::common
