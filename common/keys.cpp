#include "common/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/durable_file.h"
#include "common/hex.h"
#include "common/sodium_init.h"

namespace gradients::common {

std::string PublicKey::ToHex() const { return gradients::common::ToHex(bytes); }

Result<PublicKey> PublicKey::FromHex(std::string_view hex) {
  if (hex.size() != 2 * kPublicKeyBytes) {
    return Status::InvalidArgument("public key: expected 64 hex characters, got " + std::to_string(hex.size()));
  }
  GRADIENTS_ASSIGN_OR_RETURN(auto raw, gradients::common::FromHex(hex));
  return FromBytes(raw);
}

Result<PublicKey> PublicKey::FromBytes(std::span<const uint8_t> raw) {
  if (raw.size() != kPublicKeyBytes) {
    return Status::InvalidArgument("public key: expected 32 bytes, got " + std::to_string(raw.size()));
  }
  PublicKey key;
  std::copy(raw.begin(), raw.end(), key.bytes.begin());
  return key;
}

SigningKey SigningKey::Generate() {
  EnsureSodiumInitialized();
  std::array<uint8_t, kSeedBytes> seed;
  randombytes_buf(seed.data(), seed.size());
  SigningKey key = *FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Result<SigningKey> SigningKey::FromSeed(std::span<const uint8_t> seed) {
  EnsureSodiumInitialized();
  if (seed.size() != kSeedBytes) {
    return Status::InvalidArgument("key seed: expected 32 bytes, got " + std::to_string(seed.size()));
  }
  SigningKey key;
  crypto_sign_seed_keypair(key.public_key_.bytes.data(), key.secret_key_.data(), seed.data());
  return key;
}

SigningKey::~SigningKey() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

std::span<const uint8_t, kSeedBytes> SigningKey::seed() const {
  return std::span<const uint8_t, kSeedBytes>(secret_key_.data(), kSeedBytes);
}

Signature SigningKey::Sign(std::span<const uint8_t> message) const {
  Signature signature{};
  crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(), secret_key_.data());
  return signature;
}

Signature SigningKey::Sign(std::string_view message) const {
  return Sign(std::span(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
}

bool VerifySignature(const PublicKey& key, std::span<const uint8_t> message, const Signature& signature) {
  EnsureSodiumInitialized();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.bytes.data()) == 0;
}

Status WriteKeyFile(const std::filesystem::path& path, const SigningKey& key) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return Status::AlreadyExists(path.string() + ": key file exists; refusing to overwrite an identity");
  }
  GRADIENTS_ASSIGN_OR_RETURN(DurableFileWriter writer, DurableFileWriter::Create(path, 0600));
  GRADIENTS_RETURN_IF_ERROR(writer.Append(key.seed()));
  return writer.Commit();
}

Result<SigningKey> ReadKeyFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    if (saved == ENOENT) return Status::NotFound(path.string() + ": no such key file");
    return ErrnoStatus("opening key file " + path.string(), saved);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int saved = errno;
    ::close(fd);
    return ErrnoStatus("stat of key file " + path.string(), saved);
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied(path.string() + ": key file is accessible by group or others (mode " + mode +
                                    "); run `chmod 600 " + path.string() + "`");
  }
  if (st.st_size != static_cast<off_t>(kSeedBytes)) {
    ::close(fd);
    return Status::InvalidArgument(path.string() + ": a key file holds a 32-byte seed, this one has " +
                                   std::to_string(st.st_size) + " bytes");
  }
  std::array<uint8_t, kSeedBytes> seed{};
  ssize_t n = ::read(fd, seed.data(), seed.size());
  int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(seed.size())) {
    return n < 0 ? ErrnoStatus("reading key file " + path.string(), saved)
                 : Status::DataLoss(path.string() + ": key file shrank while being read");
  }
  Result<SigningKey> key = SigningKey::FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

void FillRandom(std::span<uint8_t> out) {
  EnsureSodiumInitialized();
  randombytes_buf(out.data(), out.size());
}

}  // namespace gradients::common
