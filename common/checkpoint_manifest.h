// A checkpoint's manifest (DESIGN.md, Checkpoints): the kind of checkpoint and each file's name,
// size and digest, in the order the upload sends them. Miners sign the digest of its canonical
// encoding; the validator recomputes that digest from the manifest it received and checks every
// file against it before it acknowledges an upload.
//
// Canonical encoding (all integers little-endian):
//   magic "GRDMAN\0\1", u8 kind (1 LoRA adapter, 2 full model), u32 file count,
//   per file: u32 len(path) path, u64 size, u8 digest algorithm (1 BLAKE2b-256, 2 SHA-256), 32 digest bytes
// The numbers are those of the protobuf enums (checkpoint.proto, common.proto).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/status.h"

namespace gradients::common {

enum class CheckpointKind { kLoraAdapter = 1, kFullModel = 2 };

struct CheckpointFileEntry {
  std::string path{};  // a file name of the checkpoint directory (no directories)
  uint64_t size_bytes = 0;
  DigestAlgorithm algorithm = DigestAlgorithm::kBlake2b256;
  Digest digest{};
  friend bool operator==(const CheckpointFileEntry&, const CheckpointFileEntry&) = default;
};

struct CheckpointManifest {
  CheckpointKind kind = CheckpointKind::kLoraAdapter;
  std::vector<CheckpointFileEntry> files{};
  friend bool operator==(const CheckpointManifest&, const CheckpointManifest&) = default;
};

inline constexpr size_t kMaxCheckpointFiles = 256;

// InvalidArgument naming the file unless: 1 to 256 files, no duplicates, every name one the kind
// allows (LoRA: adapter_config.json, adapter_model.safetensors; full: config.json, *.safetensors,
// model.safetensors.index.json, generation_config.json; both: tokenizer and chat-template files,
// README.md), never a pickle (*.bin, *.pt, *.pth, *.pkl, ...), and the files the kind needs
// present (a full model with several *.safetensors needs its index).
Status ValidateCheckpointManifest(const CheckpointManifest& manifest);

// `file <index> "<name>"`, the name made printable and bounded (names come from miners): how
// errors point at a file of a manifest.
std::string DescribeCheckpointFile(const CheckpointManifest& manifest, size_t index);

std::string EncodeCheckpointManifest(const CheckpointManifest& manifest);
// BLAKE2b-256 of the canonical encoding: what the miner signs.
Digest CheckpointManifestDigest(const CheckpointManifest& manifest);

// Total bytes of all files (saturating: a hostile manifest cannot wrap it around).
uint64_t CheckpointBytes(const CheckpointManifest& manifest);

// The manifest of a checkpoint directory as a miner exports it: its regular files, sorted by name,
// hashed with BLAKE2b-256; validated as above (so a miner learns of a bad file before it uploads).
Result<CheckpointManifest> BuildCheckpointManifest(const std::filesystem::path& dir, CheckpointKind kind);

}  // namespace gradients::common
