#include "common/keys.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "common/durable_file.h"
#include "common/hex.h"
#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// RFC 8032, section 7.1, TEST 1 (empty message).
TEST(Keys, MatchRfc8032TestVector) {
  SigningKey key = *SigningKey::FromSeed(*FromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  EXPECT_EQ(key.public_key().ToHex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(ToHex(key.Sign(std::string_view(""))),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
            "d25bf5f0595bbe24655141438e7a100b");
}

TEST(Keys, SignatureVerifiesOnlyForTheSameMessageAndKey) {
  SigningKey key = SigningKey::Generate();
  Signature signature = key.Sign(std::string_view("task-7 manifest"));
  EXPECT_TRUE(VerifySignature(key.public_key(), Bytes("task-7 manifest"), signature));
  EXPECT_FALSE(VerifySignature(key.public_key(), Bytes("task-8 manifest"), signature));
  EXPECT_FALSE(VerifySignature(SigningKey::Generate().public_key(), Bytes("task-7 manifest"), signature));
}

TEST(Keys, FlippedBitsInMessageSignatureOrKeyAreRejected) {
  SigningKey key = SigningKey::Generate();
  std::string message = "payload";
  Signature signature = key.Sign(message);
  for (size_t bit = 0; bit < message.size() * 8; ++bit) {
    std::string flipped = message;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(VerifySignature(key.public_key(), Bytes(flipped), signature)) << "message bit " << bit;
  }
  for (size_t bit = 0; bit < signature.size() * 8; ++bit) {
    Signature flipped = signature;
    flipped[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(VerifySignature(key.public_key(), Bytes(message), flipped)) << "signature bit " << bit;
  }
  for (size_t bit = 0; bit < kPublicKeyBytes * 8; ++bit) {
    PublicKey flipped = key.public_key();
    flipped.bytes[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(VerifySignature(flipped, Bytes(message), signature)) << "key bit " << bit;
  }
}

TEST(Keys, PublicKeyHexRoundTripsAndRejectsBadLengths) {
  PublicKey key = SigningKey::Generate().public_key();
  EXPECT_EQ(*PublicKey::FromHex(key.ToHex()), key);
  EXPECT_EQ(PublicKey::FromHex("abcd").status().message(), "public key: expected 64 hex characters, got 4");
}

TEST(KeyFile, IsWrittenWithMode0600AndLoadsTheSameKey) {
  testing::TempDir dir;
  SigningKey key = SigningKey::Generate();
  ASSERT_TRUE(WriteKeyFile(dir / "miner.key", key).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "miner.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  Result<SigningKey> loaded = ReadKeyFile(dir / "miner.key");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->public_key(), key.public_key());
}

TEST(KeyFile, IsNeverOverwritten) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteKeyFile(dir / "k", SigningKey::Generate()).ok());
  EXPECT_EQ(WriteKeyFile(dir / "k", SigningKey::Generate()).code(), StatusCode::kAlreadyExists);
}

TEST(KeyFile, ReadableByGroupOrOthersIsRefused) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteKeyFile(dir / "k", SigningKey::Generate()).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660, 0601}) {
    ASSERT_EQ(::chmod((dir / "k").c_str(), mode), 0);
    Result<SigningKey> loaded = ReadKeyFile(dir / "k");
    ASSERT_EQ(loaded.status().code(), StatusCode::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(loaded.status().message().find("accessible by group or others"), std::string::npos);
    EXPECT_NE(loaded.status().message().find("chmod 600"), std::string::npos);
  }
  ASSERT_EQ(::chmod((dir / "k").c_str(), 0400), 0);
  EXPECT_TRUE(ReadKeyFile(dir / "k").ok());
}

TEST(KeyFile, WrongSizeIsRejected) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "k", std::string(31, 'x'), 0600).ok());
  EXPECT_EQ(ReadKeyFile(dir / "k").status().message(),
            (dir / "k").string() + ": a key file holds a 32-byte seed, this one has 31 bytes");
  EXPECT_EQ(ReadKeyFile(dir / "absent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace gradients::common
