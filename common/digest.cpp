#include "common/digest.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/durable_file.h"
#include "common/sodium_init.h"

namespace gradients::common {

struct Hasher::State {
  crypto_generichash_state blake2b;
  crypto_hash_sha256_state sha256;
};

std::string_view DigestAlgorithmName(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kBlake2b256 ? "blake2b-256" : "sha256";
}

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), state_(std::make_unique<State>()) {
  EnsureSodiumInitialized();
  if (algorithm_ == DigestAlgorithm::kBlake2b256) {
    crypto_generichash_init(&state_->blake2b, nullptr, 0, crypto_generichash_BYTES);
  } else {
    crypto_hash_sha256_init(&state_->sha256);
  }
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::Update(std::span<const uint8_t> data) {
  if (algorithm_ == DigestAlgorithm::kBlake2b256) {
    crypto_generichash_update(&state_->blake2b, data.data(), data.size());
  } else {
    crypto_hash_sha256_update(&state_->sha256, data.data(), data.size());
  }
}

void Hasher::Update(std::string_view data) {
  Update(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

Digest Hasher::Finish() {
  static_assert(crypto_generichash_BYTES == 32 && crypto_hash_sha256_BYTES == 32);
  Digest out{};
  if (algorithm_ == DigestAlgorithm::kBlake2b256) {
    crypto_generichash_final(&state_->blake2b, out.data(), out.size());
  } else {
    crypto_hash_sha256_final(&state_->sha256, out.data());
  }
  return out;
}

Digest ComputeDigest(DigestAlgorithm algorithm, std::span<const uint8_t> data) {
  Hasher hasher(algorithm);
  hasher.Update(data);
  return hasher.Finish();
}

Digest ComputeDigest(DigestAlgorithm algorithm, std::string_view data) {
  Hasher hasher(algorithm);
  hasher.Update(data);
  return hasher.Finish();
}

Result<Digest> DigestFile(DigestAlgorithm algorithm, const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    if (saved == ENOENT) return Status::NotFound(path.string() + ": no such file");
    return ErrnoStatus("opening " + path.string(), saved);
  }
  Hasher hasher(algorithm);
  std::vector<uint8_t> block(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      return ErrnoStatus("reading " + path.string(), saved);
    }
    if (n == 0) break;
    hasher.Update(std::span(block.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return hasher.Finish();
}

}  // namespace gradients::common
