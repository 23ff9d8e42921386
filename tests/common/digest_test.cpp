#include "common/digest.h"

#include <gtest/gtest.h>

#include "common/durable_file.h"
#include "common/hex.h"
#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

// Reference values from Python's hashlib (blake2b with digest_size=32, sha256).
TEST(Digest, MatchesKnownBlake2b256Vectors) {
  EXPECT_EQ(ToHex(ComputeDigest(DigestAlgorithm::kBlake2b256, std::string_view("abc"))),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(ToHex(ComputeDigest(DigestAlgorithm::kBlake2b256, std::string_view(""))),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

TEST(Digest, MatchesKnownSha256Vector) {
  EXPECT_EQ(ToHex(ComputeDigest(DigestAlgorithm::kSha256, std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(10000, 'q');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 % 251);
  for (DigestAlgorithm algorithm : {DigestAlgorithm::kBlake2b256, DigestAlgorithm::kSha256}) {
    Hasher hasher(algorithm);
    for (size_t i = 0; i < data.size(); i += 777) hasher.Update(std::string_view(data).substr(i, 777));
    EXPECT_EQ(hasher.Finish(), ComputeDigest(algorithm, data)) << DigestAlgorithmName(algorithm);
  }
}

TEST(Digest, FileDigestSpansManyBlocks) {
  testing::TempDir dir;
  std::string data(1000003, 'a');  // crosses the 1 MiB read block
  ASSERT_TRUE(WriteFileDurably(dir / "blob", data).ok());
  Result<Digest> digest = DigestFile(DigestAlgorithm::kBlake2b256, dir / "blob");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(ToHex(*digest), "831b4bb049922b9ab127fd4c221b29fa1fbd2d66b6f04da86e5b2411895386cc");
}

TEST(Digest, MissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(DigestFile(DigestAlgorithm::kSha256, dir / "absent").status().code(), StatusCode::kNotFound);
}

TEST(Hex, RoundTripsAndRejectsBadInput) {
  std::vector<uint8_t> bytes = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(ToHex(bytes), "007fabff");
  EXPECT_EQ(*FromHex("007FABff"), bytes);
  EXPECT_EQ(FromHex("abc").status().message(), "hex string has odd length 3");
  EXPECT_EQ(FromHex("0g").status().message(), "non-hex character at position 1");
}

}  // namespace
}  // namespace gradients::common
