// Checkpoint manifests, digests and signed envelopes between their protocol messages
// (checkpoint.proto, common.proto) and common/'s types, checked on the way in: these messages come
// from untrusted peers. Shared by the validator (which receives them) and the miner (which sends).
#pragma once

#include "common/checkpoint_manifest.h"
#include "common/digest.h"
#include "common/envelope.h"
#include "common/status.h"
#include "gradients/v1/checkpoint.pb.h"
#include "gradients/v1/common.pb.h"

namespace gradients::proto {

// InvalidArgument for an unknown algorithm or a value that is not 32 bytes.
common::Result<std::pair<common::DigestAlgorithm, common::Digest>> FromProto(const v1::Digest& digest);
void ToProto(common::DigestAlgorithm algorithm, const common::Digest& digest, v1::Digest* out);

// InvalidArgument naming the file for an unknown kind, too many files, a path over 255 bytes or a
// bad digest (the names a kind allows are ValidateCheckpointManifest's concern).
common::Result<common::CheckpointManifest> FromProto(const v1::CheckpointManifest& manifest);
void ToProto(const common::CheckpointManifest& manifest, v1::CheckpointManifest* out);

// Size-checked (at most 4096 encoded bytes) and strictly decoded; the signature is not verified
// here (VerifyEnvelope).
common::Result<common::SignedEnvelope> FromProto(const v1::SignedEnvelope& envelope);
common::Status ToProto(const common::SignedEnvelope& envelope, v1::SignedEnvelope* out);

}  // namespace gradients::proto
