// Ed25519 identities: key generation, key files, signing and verification (libsodium).
//
// A key file holds exactly the 32-byte seed, mode 0600. Loading refuses a file that group or
// others can read: a leaked seed is a stolen identity, and a miner's rewards go to its key.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gradients::common {

inline constexpr size_t kSeedBytes = 32;
inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;

using Signature = std::array<uint8_t, kSignatureBytes>;

struct PublicKey {
  std::array<uint8_t, kPublicKeyBytes> bytes{};

  std::string ToHex() const;
  static Result<PublicKey> FromHex(std::string_view hex);
  static Result<PublicKey> FromBytes(std::span<const uint8_t> bytes);

  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

// A private key. The secret bytes are wiped when the object is destroyed.
class SigningKey {
 public:
  static SigningKey Generate();
  static Result<SigningKey> FromSeed(std::span<const uint8_t> seed);

  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
  ~SigningKey();

  const PublicKey& public_key() const { return public_key_; }
  std::span<const uint8_t, kSeedBytes> seed() const;
  Signature Sign(std::span<const uint8_t> message) const;
  Signature Sign(std::string_view message) const;

 private:
  SigningKey() = default;

  // libsodium's secret key: the seed followed by the public key.
  std::array<uint8_t, 64> secret_key_{};
  PublicKey public_key_;
};

bool VerifySignature(const PublicKey& key, std::span<const uint8_t> message, const Signature& signature);

// Fills `out` from libsodium's CSPRNG (the operating system's): for nonces and session tokens.
void FillRandom(std::span<uint8_t> out);

// Writes the seed with mode 0600, durably. An existing file is never overwritten (AlreadyExists).
Status WriteKeyFile(const std::filesystem::path& path, const SigningKey& key);

// PermissionDenied when group or others have any access to the file; InvalidArgument when it
// does not hold exactly 32 bytes.
Result<SigningKey> ReadKeyFile(const std::filesystem::path& path);

}  // namespace gradients::common
