#include "proto/checkpoint_messages.h"

#include <algorithm>
#include <span>
#include <string>

namespace gradients::proto {
namespace {

std::span<const uint8_t> Bytes(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

template <size_t N>
std::string AsString(const std::array<uint8_t, N>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), N};
}

}  // namespace

common::Result<std::pair<common::DigestAlgorithm, common::Digest>> FromProto(const v1::Digest& digest) {
  common::DigestAlgorithm algorithm;
  switch (digest.algorithm()) {
    case v1::DIGEST_ALGORITHM_BLAKE2B_256: algorithm = common::DigestAlgorithm::kBlake2b256; break;
    case v1::DIGEST_ALGORITHM_SHA256: algorithm = common::DigestAlgorithm::kSha256; break;
    default: return common::Status::InvalidArgument("digest: unknown algorithm " + std::to_string(digest.algorithm()));
  }
  common::Digest value{};
  if (digest.value().size() != value.size()) {
    return common::Status::InvalidArgument("digest: expected 32 bytes, got " + std::to_string(digest.value().size()));
  }
  std::copy(digest.value().begin(), digest.value().end(), value.begin());
  return std::pair{algorithm, value};
}

void ToProto(common::DigestAlgorithm algorithm, const common::Digest& digest, v1::Digest* out) {
  out->set_algorithm(algorithm == common::DigestAlgorithm::kBlake2b256 ? v1::DIGEST_ALGORITHM_BLAKE2B_256
                                                               : v1::DIGEST_ALGORITHM_SHA256);
  out->set_value(AsString(digest));
}

common::Result<common::CheckpointManifest> FromProto(const v1::CheckpointManifest& manifest) {
  common::CheckpointManifest out;
  switch (manifest.kind()) {
    case v1::CHECKPOINT_KIND_LORA_ADAPTER: out.kind = common::CheckpointKind::kLoraAdapter; break;
    case v1::CHECKPOINT_KIND_FULL_MODEL: out.kind = common::CheckpointKind::kFullModel; break;
    default: return common::Status::InvalidArgument("manifest: kind is required");
  }
  if (manifest.files_size() > static_cast<int>(common::kMaxCheckpointFiles)) {
    return common::Status::InvalidArgument("manifest: at most " + std::to_string(common::kMaxCheckpointFiles) + " files, got " +
                                   std::to_string(manifest.files_size()));
  }
  for (int i = 0; i < manifest.files_size(); ++i) {
    const v1::CheckpointFile& file = manifest.files(i);
    const std::string where = "manifest file " + std::to_string(i);
    if (file.relative_path().size() > v1::LIMIT_MAX_PATH_BYTES) {
      return common::Status::InvalidArgument(where + ": relative_path over " + std::to_string(v1::LIMIT_MAX_PATH_BYTES) +
                                     " bytes");
    }
    common::Result<std::pair<common::DigestAlgorithm, common::Digest>> digest = FromProto(file.digest());
    if (!digest.ok()) return digest.status().WithContext(where);
    out.files.push_back({.path = file.relative_path(), .size_bytes = file.size_bytes(), .algorithm = digest->first,
                         .digest = digest->second});
  }
  return out;
}

void ToProto(const common::CheckpointManifest& manifest, v1::CheckpointManifest* out) {
  out->set_kind(manifest.kind == common::CheckpointKind::kLoraAdapter ? v1::CHECKPOINT_KIND_LORA_ADAPTER
                                                              : v1::CHECKPOINT_KIND_FULL_MODEL);
  out->clear_files();
  for (const common::CheckpointFileEntry& file : manifest.files) {
    v1::CheckpointFile* entry = out->add_files();
    entry->set_relative_path(file.path);
    entry->set_size_bytes(file.size_bytes);
    ToProto(file.algorithm, file.digest, entry->mutable_digest());
  }
}

common::Result<common::SignedEnvelope> FromProto(const v1::SignedEnvelope& wire) {
  if (wire.encoded().size() > v1::LIMIT_MAX_ENVELOPE_BYTES) {
    return common::Status::InvalidArgument("envelope of " + std::to_string(wire.encoded().size()) +
                                   " bytes exceeds the limit of " + std::to_string(v1::LIMIT_MAX_ENVELOPE_BYTES));
  }
  common::Result<common::Envelope> body = common::DecodeEnvelopeBody(Bytes(wire.encoded()));
  if (!body.ok()) return body.status().WithContext("envelope");
  common::Result<common::PublicKey> signer = common::PublicKey::FromBytes(Bytes(wire.signer_public_key()));
  if (!signer.ok()) return signer.status().WithContext("signer_public_key");
  if (wire.signature().size() != common::kSignatureBytes) {
    return common::Status::InvalidArgument("signature: expected " + std::to_string(common::kSignatureBytes) + " bytes, got " +
                                   std::to_string(wire.signature().size()));
  }
  common::SignedEnvelope envelope{.body = std::move(*body), .signer = *signer, .signature = {}};
  std::copy(wire.signature().begin(), wire.signature().end(), envelope.signature.begin());
  return envelope;
}

common::Status ToProto(const common::SignedEnvelope& envelope, v1::SignedEnvelope* out) {
  common::Result<std::string> encoded = common::EncodeEnvelopeBody(envelope.body);
  if (!encoded.ok()) return encoded.status();
  out->set_encoded(std::move(*encoded));
  out->set_signer_public_key(AsString(envelope.signer.bytes));
  out->set_signature(AsString(envelope.signature));
  return common::Status::Ok();
}

}  // namespace gradients::proto
