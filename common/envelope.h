// Canonical signed envelopes.
//
// Whatever Gradients signs (checkpoints, authentication challenges) is first put in one
// canonical byte form, so that signer and verifier hash exactly the same bytes and a signature
// made for one purpose can never be replayed as another:
//
//   body   = magic "GRDENV\0\1"
//            u32le len(domain) domain                      the domain-separation tag
//            u32le field count
//            { u32le len(name) name  u32le len(value) value }   in the given order
//   signed = u32le len(body) body  public key (32 bytes)  ed25519 signature over body (64 bytes)
//
// All integers are little-endian; names are unique and match [a-z0-9_]+; the domain matches
// [a-z0-9_./-]+. Decoding is strict (no trailing bytes, every limit enforced) because the
// bytes come from untrusted miners.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/keys.h"
#include "common/status.h"

namespace gradients::common {

struct EnvelopeField {
  std::string name;
  std::string value;  // arbitrary bytes
  friend bool operator==(const EnvelopeField&, const EnvelopeField&) = default;
};

struct Envelope {
  std::string domain;
  std::vector<EnvelopeField> fields;

  // The value of the named field, or nullptr.
  const std::string* Find(std::string_view name) const;
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

struct EnvelopeLimits {
  size_t max_encoded_bytes = 64 * 1024;
  size_t max_fields = 32;
  size_t max_name_bytes = 64;
  size_t max_domain_bytes = 128;
  size_t max_value_bytes = 16 * 1024;
};

struct SignedEnvelope {
  Envelope body;
  PublicKey signer;
  Signature signature{};
};

// Checks names, uniqueness and limits; the encoders below refuse what this refuses.
Status ValidateEnvelope(const Envelope& envelope, const EnvelopeLimits& limits = {});

// The canonical bytes that are signed.
Result<std::string> EncodeEnvelopeBody(const Envelope& envelope, const EnvelopeLimits& limits = {});
Result<Envelope> DecodeEnvelopeBody(std::span<const uint8_t> bytes, const EnvelopeLimits& limits = {});

Result<SignedEnvelope> SignEnvelope(Envelope envelope, const SigningKey& key, const EnvelopeLimits& limits = {});

Result<std::string> EncodeSignedEnvelope(const SignedEnvelope& envelope, const EnvelopeLimits& limits = {});
// Structural decoding only; call VerifyEnvelope before trusting anything inside.
Result<SignedEnvelope> DecodeSignedEnvelope(std::span<const uint8_t> bytes, const EnvelopeLimits& limits = {});

// Unauthenticated unless the domain is `expected_domain`, the signer is `expected_signer` and
// the signature verifies over the canonical body.
Status VerifyEnvelope(const SignedEnvelope& envelope, std::string_view expected_domain,
                      const PublicKey& expected_signer, const EnvelopeLimits& limits = {});

}  // namespace gradients::common
