#include "validator/miner_auth.h"

#include <functional>

#include <gtest/gtest.h>

namespace gradients {
namespace {

class MinerAuth : public ::testing::Test {
 protected:
  MinerAuthenticator auth_{MinerAuthOptions{.validator_id = "validator-1", .challenge_ttl_ms = 1000,
                                            .session_ttl_ms = 5000, .max_challenges_per_key = 2}};
  SigningKey miner_ = SigningKey::Generate();

  // The miner's side: signs the answer to `challenge` (or to what the arguments alter).
  SignedEnvelope Answer(const AuthChallenge& challenge, const SigningKey& signer, std::string validator_id = "validator-1") {
    return *SignEnvelope(AuthEnvelope(validator_id, signer.public_key(), challenge.nonce), signer);
  }
};

TEST_F(MinerAuth, AnAnsweredChallengeOpensASessionForThatKey) {
  const AuthChallenge challenge = *auth_.IssueChallenge(miner_.public_key(), 0);
  EXPECT_EQ(challenge.expires_at_ms, 1000);
  Result<MinerSession> session = auth_.Authenticate(Answer(challenge, miner_), 10);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(session->token.size(), 64u);
  EXPECT_EQ(session->expires_at_ms, 5010);
  EXPECT_EQ(*auth_.SessionMiner(session->token, 20), miner_.public_key());
  EXPECT_EQ(auth_.SessionMiner(session->token, 5010).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth_.SessionMiner("not-a-token", 20).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(MinerAuth, ANonceWorksOnceEvenWhenItsFirstUseFailed) {
  const AuthChallenge challenge = *auth_.IssueChallenge(miner_.public_key(), 0);
  SignedEnvelope tampered = Answer(challenge, miner_);
  tampered.signature[0] ^= 1;
  EXPECT_EQ(auth_.Authenticate(tampered, 10).status().code(), StatusCode::kUnauthenticated);
  Result<MinerSession> replay = auth_.Authenticate(Answer(challenge, miner_), 20);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().message(), "unknown, used or expired nonce");
}

TEST_F(MinerAuth, RefusesAnswersThatDoNotMatchTheChallenge) {
  const SigningKey other = SigningKey::Generate();
  struct Case {
    const char* what;
    std::function<SignedEnvelope(const AuthChallenge&)> answer;
    const char* message;
  };
  const Case cases[] = {
      {"another key signs", [&](const AuthChallenge& c) { return Answer(c, other); }, "issued to another key"},
      {"another validator", [&](const AuthChallenge& c) { return Answer(c, miner_, "validator-2"); },
       "the proof's fields are not"},
      {"another purpose",
       [&](const AuthChallenge& c) {
         Envelope body = AuthEnvelope("validator-1", miner_.public_key(), c.nonce);
         body.domain = "gradients/checkpoint/v1";
         return *SignEnvelope(body, miner_);
       },
       "domain"},
  };
  for (const Case& c : cases) {
    const AuthChallenge challenge = *auth_.IssueChallenge(miner_.public_key(), 0);
    Result<MinerSession> session = auth_.Authenticate(c.answer(challenge), 10);
    ASSERT_FALSE(session.ok()) << c.what;
    EXPECT_EQ(session.status().code(), StatusCode::kUnauthenticated) << c.what;
    EXPECT_NE(session.status().message().find(c.message), std::string::npos) << c.what << ": " << session.status().message();
  }
  const AuthChallenge expired = *auth_.IssueChallenge(miner_.public_key(), 0);
  EXPECT_EQ(auth_.Authenticate(Answer(expired, miner_), 1000).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(MinerAuth, AKeyHoldsFewOpenChallenges) {
  ASSERT_TRUE(auth_.IssueChallenge(miner_.public_key(), 0).ok());
  const AuthChallenge second = *auth_.IssueChallenge(miner_.public_key(), 0);
  Result<AuthChallenge> third = auth_.IssueChallenge(miner_.public_key(), 0);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(auth_.IssueChallenge(SigningKey::Generate().public_key(), 0).ok());  // others are not held back
  // Answering one frees its place; so does expiry.
  ASSERT_TRUE(auth_.Authenticate(Answer(second, miner_), 10).ok());
  EXPECT_TRUE(auth_.IssueChallenge(miner_.public_key(), 10).ok());
  EXPECT_FALSE(auth_.IssueChallenge(miner_.public_key(), 10).ok());
  EXPECT_TRUE(auth_.IssueChallenge(miner_.public_key(), 1010).ok());
}

}  // namespace
}  // namespace gradients
