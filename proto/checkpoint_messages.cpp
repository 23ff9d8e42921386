#include "proto/checkpoint_messages.h"

#include <algorithm>
#include <span>
#include <string>

namespace gradients {
namespace {

std::span<const uint8_t> Bytes(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

template <size_t N>
std::string AsString(const std::array<uint8_t, N>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), N};
}

}  // namespace

Result<std::pair<DigestAlgorithm, Digest>> FromProto(const v1::Digest& digest) {
  DigestAlgorithm algorithm;
  switch (digest.algorithm()) {
    case v1::DIGEST_ALGORITHM_BLAKE2B_256: algorithm = DigestAlgorithm::kBlake2b256; break;
    case v1::DIGEST_ALGORITHM_SHA256: algorithm = DigestAlgorithm::kSha256; break;
    default: return Status::InvalidArgument("digest: unknown algorithm " + std::to_string(digest.algorithm()));
  }
  Digest value{};
  if (digest.value().size() != value.size()) {
    return Status::InvalidArgument("digest: expected 32 bytes, got " + std::to_string(digest.value().size()));
  }
  std::copy(digest.value().begin(), digest.value().end(), value.begin());
  return std::pair{algorithm, value};
}

void ToProto(DigestAlgorithm algorithm, const Digest& digest, v1::Digest* out) {
  out->set_algorithm(algorithm == DigestAlgorithm::kBlake2b256 ? v1::DIGEST_ALGORITHM_BLAKE2B_256
                                                               : v1::DIGEST_ALGORITHM_SHA256);
  out->set_value(AsString(digest));
}

Result<CheckpointManifest> FromProto(const v1::CheckpointManifest& manifest) {
  CheckpointManifest out;
  switch (manifest.kind()) {
    case v1::CHECKPOINT_KIND_LORA_ADAPTER: out.kind = CheckpointKind::kLoraAdapter; break;
    case v1::CHECKPOINT_KIND_FULL_MODEL: out.kind = CheckpointKind::kFullModel; break;
    default: return Status::InvalidArgument("manifest: kind is required");
  }
  if (manifest.files_size() > static_cast<int>(kMaxCheckpointFiles)) {
    return Status::InvalidArgument("manifest: at most " + std::to_string(kMaxCheckpointFiles) + " files, got " +
                                   std::to_string(manifest.files_size()));
  }
  for (int i = 0; i < manifest.files_size(); ++i) {
    const v1::CheckpointFile& file = manifest.files(i);
    const std::string where = "manifest file " + std::to_string(i);
    if (file.relative_path().size() > v1::LIMIT_MAX_PATH_BYTES) {
      return Status::InvalidArgument(where + ": relative_path over " + std::to_string(v1::LIMIT_MAX_PATH_BYTES) +
                                     " bytes");
    }
    Result<std::pair<DigestAlgorithm, Digest>> digest = FromProto(file.digest());
    if (!digest.ok()) return digest.status().WithContext(where);
    out.files.push_back({.path = file.relative_path(), .size_bytes = file.size_bytes(), .algorithm = digest->first,
                         .digest = digest->second});
  }
  return out;
}

void ToProto(const CheckpointManifest& manifest, v1::CheckpointManifest* out) {
  out->set_kind(manifest.kind == CheckpointKind::kLoraAdapter ? v1::CHECKPOINT_KIND_LORA_ADAPTER
                                                              : v1::CHECKPOINT_KIND_FULL_MODEL);
  out->clear_files();
  for (const CheckpointFileEntry& file : manifest.files) {
    v1::CheckpointFile* entry = out->add_files();
    entry->set_relative_path(file.path);
    entry->set_size_bytes(file.size_bytes);
    ToProto(file.algorithm, file.digest, entry->mutable_digest());
  }
}

Result<SignedEnvelope> FromProto(const v1::SignedEnvelope& wire) {
  if (wire.encoded().size() > v1::LIMIT_MAX_ENVELOPE_BYTES) {
    return Status::InvalidArgument("envelope of " + std::to_string(wire.encoded().size()) +
                                   " bytes exceeds the limit of " + std::to_string(v1::LIMIT_MAX_ENVELOPE_BYTES));
  }
  Result<Envelope> body = DecodeEnvelopeBody(Bytes(wire.encoded()));
  if (!body.ok()) return body.status().WithContext("envelope");
  Result<PublicKey> signer = PublicKey::FromBytes(Bytes(wire.signer_public_key()));
  if (!signer.ok()) return signer.status().WithContext("signer_public_key");
  if (wire.signature().size() != kSignatureBytes) {
    return Status::InvalidArgument("signature: expected " + std::to_string(kSignatureBytes) + " bytes, got " +
                                   std::to_string(wire.signature().size()));
  }
  SignedEnvelope envelope{.body = std::move(*body), .signer = *signer, .signature = {}};
  std::copy(wire.signature().begin(), wire.signature().end(), envelope.signature.begin());
  return envelope;
}

Status ToProto(const SignedEnvelope& envelope, v1::SignedEnvelope* out) {
  Result<std::string> encoded = EncodeEnvelopeBody(envelope.body);
  if (!encoded.ok()) return encoded.status();
  out->set_encoded(std::move(*encoded));
  out->set_signer_public_key(AsString(envelope.signer.bytes));
  out->set_signature(AsString(envelope.signature));
  return Status::Ok();
}

}  // namespace gradients
