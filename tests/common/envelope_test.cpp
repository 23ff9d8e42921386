#include "common/envelope.h"

#include <gtest/gtest.h>

namespace gradients::common {
namespace {

constexpr std::string_view kDomain = "gradients/checkpoint/v1";

std::span<const uint8_t> Bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Envelope SampleEnvelope() {
  return Envelope{std::string(kDomain),
                  {{"validator_id", "v1"}, {"task_id", "task-42"}, {"nonce", std::string("\x00\x01\xff", 3)}}};
}

TEST(Envelope, EncodingIsCanonicalAndLengthPrefixed) {
  Envelope envelope{"d", {{"a", "xy"}}};
  std::string expected("GRDENV\0\1", 8);
  expected += std::string("\x01\x00\x00\x00", 4) + "d";
  expected += std::string("\x01\x00\x00\x00", 4);
  expected += std::string("\x01\x00\x00\x00", 4) + "a" + std::string("\x02\x00\x00\x00", 4) + "xy";
  EXPECT_EQ(*EncodeEnvelopeBody(envelope), expected);
}

TEST(Envelope, LengthPrefixesKeepFieldBoundariesUnambiguous) {
  // Without length prefixes these two would serialise to the same bytes.
  Envelope a{"d", {{"a", "bc"}, {"d", ""}}};
  Envelope b{"d", {{"a", "b"}, {"d", "c"}}};
  EXPECT_NE(*EncodeEnvelopeBody(a), *EncodeEnvelopeBody(b));
}

TEST(Envelope, SignedEnvelopeRoundTripsAndVerifies) {
  SigningKey key = SigningKey::Generate();
  Result<SignedEnvelope> signed_envelope = SignEnvelope(SampleEnvelope(), key);
  ASSERT_TRUE(signed_envelope.ok()) << signed_envelope.status().ToString();
  std::string wire = *EncodeSignedEnvelope(*signed_envelope);
  Result<SignedEnvelope> decoded = DecodeSignedEnvelope(Bytes(wire));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->body, SampleEnvelope());
  EXPECT_EQ(*decoded->body.Find("task_id"), "task-42");
  EXPECT_EQ(decoded->body.Find("missing"), nullptr);
  EXPECT_TRUE(VerifyEnvelope(*decoded, kDomain, key.public_key()).ok());
}

TEST(Envelope, WrongDomainTagIsRejected) {
  SigningKey key = SigningKey::Generate();
  Envelope envelope = SampleEnvelope();
  envelope.domain = "gradients/auth/v1";
  SignedEnvelope signed_envelope = *SignEnvelope(envelope, key);
  Status status = VerifyEnvelope(signed_envelope, kDomain, key.public_key());
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("domain"), std::string::npos);
}

TEST(Envelope, ChangingTheDomainAfterSigningBreaksTheSignature) {
  SigningKey key = SigningKey::Generate();
  Envelope envelope = SampleEnvelope();
  envelope.domain = "gradients/auth/v1";
  SignedEnvelope signed_envelope = *SignEnvelope(envelope, key);
  signed_envelope.body.domain = std::string(kDomain);
  EXPECT_EQ(VerifyEnvelope(signed_envelope, kDomain, key.public_key()).message(),
            "envelope signature does not verify");
}

TEST(Envelope, EveryFlippedBitOfTheWireFormIsRejected) {
  SigningKey key = SigningKey::Generate();
  std::string wire = *EncodeSignedEnvelope(*SignEnvelope(SampleEnvelope(), key));
  for (size_t bit = 0; bit < wire.size() * 8; ++bit) {
    std::string flipped = wire;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    Result<SignedEnvelope> decoded = DecodeSignedEnvelope(Bytes(flipped));
    if (!decoded.ok()) continue;  // structurally broken: rejected already
    EXPECT_FALSE(VerifyEnvelope(*decoded, kDomain, key.public_key()).ok()) << "bit " << bit;
  }
}

TEST(Envelope, AnotherSignerIsRejected) {
  SigningKey key = SigningKey::Generate();
  SignedEnvelope signed_envelope = *SignEnvelope(SampleEnvelope(), key);
  EXPECT_EQ(VerifyEnvelope(signed_envelope, kDomain, SigningKey::Generate().public_key()).code(),
            StatusCode::kUnauthenticated);
}

TEST(Envelope, DecoderRejectsTruncationAndTrailingBytes) {
  SigningKey key = SigningKey::Generate();
  std::string wire = *EncodeSignedEnvelope(*SignEnvelope(SampleEnvelope(), key));
  for (size_t length = 0; length < wire.size(); ++length) {
    EXPECT_FALSE(DecodeSignedEnvelope(Bytes(wire.substr(0, length))).ok()) << "length " << length;
  }
  EXPECT_EQ(DecodeSignedEnvelope(Bytes(wire + "x")).status().message(), "signed envelope has 1 trailing bytes");
}

TEST(Envelope, InvalidFieldsAreRefusedOnBothSides) {
  EXPECT_EQ(ValidateEnvelope({"d", {{"a", "1"}, {"a", "2"}}}).message(), "envelope field \"a\" appears twice");
  EXPECT_FALSE(ValidateEnvelope({"d", {{"Upper", "1"}}}).ok());
  EXPECT_FALSE(ValidateEnvelope({"", {}}).ok());
  EXPECT_FALSE(ValidateEnvelope({"bad domain", {}}).ok());
  EnvelopeLimits limits;
  limits.max_fields = 1;
  EXPECT_FALSE(ValidateEnvelope({"d", {{"a", "1"}, {"b", "2"}}}, limits).ok());
}

TEST(Envelope, DecoderRefusesDeclaredSizesAboveLimitsBeforeReading) {
  std::string body("GRDENV\0\1", 8);
  body += std::string("\xff\xff\xff\x7f", 4);  // a 2 GiB domain in a 12-byte buffer
  Result<Envelope> decoded = DecodeEnvelopeBody(Bytes(body));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("above the limit"), std::string::npos);
  EXPECT_EQ(DecodeEnvelopeBody(Bytes("NOTMAGIC")).status().message(),
            "not a Gradients envelope (bad magic or version)");
}

}  // namespace
}  // namespace gradients::common
