// Fuzzes the signed-envelope decoder. Accepted input must be canonical: re-encoding what was
// decoded gives back exactly the input bytes, so two parties can never disagree about what
// was signed. A violation traps.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "common/envelope.h"

namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = gradients::common::DecodeSignedEnvelope(std::span(data, size));
  if (!decoded.ok()) {
    Require(!decoded.status().message().empty());
    return 0;
  }
  auto encoded = gradients::common::EncodeSignedEnvelope(*decoded);
  Require(encoded.ok());
  Require(encoded->size() == size && std::memcmp(encoded->data(), data, size) == 0);
  // Verification must fail cleanly, never crash, for whatever key and domain were sent.
  (void)gradients::common::VerifyEnvelope(*decoded, decoded->body.domain, decoded->signer);
  return 0;
}
