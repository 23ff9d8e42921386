#include "common/envelope.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace gradients::common {
namespace {

constexpr char kMagic[8] = {'G', 'R', 'D', 'E', 'N', 'V', '\0', '\1'};

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
bool IsDomainChar(char c) { return IsNameChar(c) || c == '.' || c == '/' || c == '-'; }

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void PutBytes(std::string& out, std::string_view bytes) {
  PutU32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads from an untrusted buffer; every read checks the remaining length first.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t remaining() const { return bytes_.size() - pos_; }

  bool ReadU32(uint32_t& v) {
    if (remaining() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return true;
  }

  bool ReadRaw(size_t n, std::span<const uint8_t>& out) {
    if (remaining() < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

  // A u32 length then that many bytes, refusing lengths above `max`.
  Status ReadString(std::string_view what, size_t max, std::string& out) {
    uint32_t n = 0;
    if (!ReadU32(n)) return Status::InvalidArgument("envelope truncated in the length of " + std::string(what));
    if (n > max) {
      return Status::InvalidArgument("envelope " + std::string(what) + " is " + std::to_string(n) +
                                     " bytes, above the limit of " + std::to_string(max));
    }
    std::span<const uint8_t> raw;
    if (!ReadRaw(n, raw)) return Status::InvalidArgument("envelope truncated in " + std::string(what));
    out.assign(reinterpret_cast<const char*>(raw.data()), raw.size());
    return Status::Ok();
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

std::span<const uint8_t> AsBytes(std::string_view s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

const std::string* Envelope::Find(std::string_view name) const {
  for (const EnvelopeField& field : fields) {
    if (field.name == name) return &field.value;
  }
  return nullptr;
}

Status ValidateEnvelope(const Envelope& envelope, const EnvelopeLimits& limits) {
  if (envelope.domain.empty()) return Status::InvalidArgument("envelope domain is empty");
  if (envelope.domain.size() > limits.max_domain_bytes) {
    return Status::InvalidArgument("envelope domain is longer than " + std::to_string(limits.max_domain_bytes) +
                                   " bytes");
  }
  if (!std::all_of(envelope.domain.begin(), envelope.domain.end(), IsDomainChar)) {
    return Status::InvalidArgument("envelope domain has a character outside [a-z0-9_./-]");
  }
  if (envelope.fields.size() > limits.max_fields) {
    return Status::InvalidArgument("envelope has " + std::to_string(envelope.fields.size()) +
                                   " fields, above the limit of " + std::to_string(limits.max_fields));
  }
  std::unordered_set<std::string_view> seen;
  for (const EnvelopeField& field : envelope.fields) {
    if (field.name.empty() || field.name.size() > limits.max_name_bytes ||
        !std::all_of(field.name.begin(), field.name.end(), IsNameChar)) {
      return Status::InvalidArgument("envelope field name must be 1-" + std::to_string(limits.max_name_bytes) +
                                     " characters of [a-z0-9_]");
    }
    if (!seen.insert(field.name).second) {
      return Status::InvalidArgument("envelope field \"" + field.name + "\" appears twice");
    }
    if (field.value.size() > limits.max_value_bytes) {
      return Status::InvalidArgument("envelope field \"" + field.name + "\" is longer than " +
                                     std::to_string(limits.max_value_bytes) + " bytes");
    }
  }
  return Status::Ok();
}

Result<std::string> EncodeEnvelopeBody(const Envelope& envelope, const EnvelopeLimits& limits) {
  GRADIENTS_RETURN_IF_ERROR(ValidateEnvelope(envelope, limits));
  std::string out(kMagic, sizeof(kMagic));
  PutBytes(out, envelope.domain);
  PutU32(out, static_cast<uint32_t>(envelope.fields.size()));
  for (const EnvelopeField& field : envelope.fields) {
    PutBytes(out, field.name);
    PutBytes(out, field.value);
  }
  if (out.size() > limits.max_encoded_bytes) {
    return Status::InvalidArgument("envelope encodes to " + std::to_string(out.size()) +
                                   " bytes, above the limit of " + std::to_string(limits.max_encoded_bytes));
  }
  return out;
}

Result<Envelope> DecodeEnvelopeBody(std::span<const uint8_t> bytes, const EnvelopeLimits& limits) {
  if (bytes.size() > limits.max_encoded_bytes) {
    return Status::InvalidArgument("envelope body is " + std::to_string(bytes.size()) +
                                   " bytes, above the limit of " + std::to_string(limits.max_encoded_bytes));
  }
  Cursor cursor(bytes);
  std::span<const uint8_t> magic;
  if (!cursor.ReadRaw(sizeof(kMagic), magic) || std::memcmp(magic.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::InvalidArgument("not a Gradients envelope (bad magic or version)");
  }
  Envelope envelope;
  GRADIENTS_RETURN_IF_ERROR(cursor.ReadString("domain", limits.max_domain_bytes, envelope.domain));
  uint32_t count = 0;
  if (!cursor.ReadU32(count)) return Status::InvalidArgument("envelope truncated in the field count");
  if (count > limits.max_fields) {
    return Status::InvalidArgument("envelope declares " + std::to_string(count) + " fields, above the limit of " +
                                   std::to_string(limits.max_fields));
  }
  envelope.fields.resize(count);
  for (EnvelopeField& field : envelope.fields) {
    GRADIENTS_RETURN_IF_ERROR(cursor.ReadString("field name", limits.max_name_bytes, field.name));
    GRADIENTS_RETURN_IF_ERROR(cursor.ReadString("field value", limits.max_value_bytes, field.value));
  }
  if (cursor.remaining() != 0) {
    return Status::InvalidArgument("envelope body has " + std::to_string(cursor.remaining()) + " trailing bytes");
  }
  GRADIENTS_RETURN_IF_ERROR(ValidateEnvelope(envelope, limits));
  return envelope;
}

Result<SignedEnvelope> SignEnvelope(Envelope envelope, const SigningKey& key, const EnvelopeLimits& limits) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string body, EncodeEnvelopeBody(envelope, limits));
  SignedEnvelope signed_envelope;
  signed_envelope.body = std::move(envelope);
  signed_envelope.signer = key.public_key();
  signed_envelope.signature = key.Sign(body);
  return signed_envelope;
}

Result<std::string> EncodeSignedEnvelope(const SignedEnvelope& envelope, const EnvelopeLimits& limits) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string body, EncodeEnvelopeBody(envelope.body, limits));
  std::string out;
  PutBytes(out, body);
  out.append(reinterpret_cast<const char*>(envelope.signer.bytes.data()), envelope.signer.bytes.size());
  out.append(reinterpret_cast<const char*>(envelope.signature.data()), envelope.signature.size());
  return out;
}

Result<SignedEnvelope> DecodeSignedEnvelope(std::span<const uint8_t> bytes, const EnvelopeLimits& limits) {
  Cursor cursor(bytes);
  uint32_t body_size = 0;
  if (!cursor.ReadU32(body_size)) return Status::InvalidArgument("signed envelope truncated in the body length");
  if (body_size > limits.max_encoded_bytes) {
    return Status::InvalidArgument("envelope body is " + std::to_string(body_size) +
                                   " bytes, above the limit of " + std::to_string(limits.max_encoded_bytes));
  }
  std::span<const uint8_t> body, signer, signature;
  if (!cursor.ReadRaw(body_size, body)) return Status::InvalidArgument("signed envelope truncated in the body");
  if (!cursor.ReadRaw(kPublicKeyBytes, signer)) {
    return Status::InvalidArgument("signed envelope truncated in the signer key");
  }
  if (!cursor.ReadRaw(kSignatureBytes, signature)) {
    return Status::InvalidArgument("signed envelope truncated in the signature");
  }
  if (cursor.remaining() != 0) {
    return Status::InvalidArgument("signed envelope has " + std::to_string(cursor.remaining()) + " trailing bytes");
  }
  SignedEnvelope out;
  GRADIENTS_ASSIGN_OR_RETURN(out.body, DecodeEnvelopeBody(body, limits));
  std::copy(signer.begin(), signer.end(), out.signer.bytes.begin());
  std::copy(signature.begin(), signature.end(), out.signature.begin());
  return out;
}

Status VerifyEnvelope(const SignedEnvelope& envelope, std::string_view expected_domain,
                      const PublicKey& expected_signer, const EnvelopeLimits& limits) {
  if (envelope.body.domain != expected_domain) {
    return Status::Unauthenticated("envelope domain \"" + envelope.body.domain.substr(0, 64) + "\" is not \"" +
                                   std::string(expected_domain) + "\"");
  }
  if (!(envelope.signer == expected_signer)) {
    return Status::Unauthenticated("envelope is signed by " + envelope.signer.ToHex() + ", expected " +
                                   expected_signer.ToHex());
  }
  GRADIENTS_ASSIGN_OR_RETURN(std::string body, EncodeEnvelopeBody(envelope.body, limits));
  if (!VerifySignature(envelope.signer, AsBytes(body), envelope.signature)) {
    return Status::Unauthenticated("envelope signature does not verify");
  }
  return Status::Ok();
}

}  // namespace gradients::common
