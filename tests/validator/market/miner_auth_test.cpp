#include "validator/market/miner_auth.h"

#include <functional>

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

class MinerAuth : public ::testing::Test {
 protected:
  MinerAuthenticator auth_{MinerAuthOptions{.validator_id = "validator-1", .challenge_ttl_ms = 1000,
                                            .session_ttl_ms = 5000, .max_challenges_per_key = 2}};
  common::SigningKey miner_ = common::SigningKey::Generate();

  // The miner's side: signs the answer to `challenge` (or to what the arguments alter).
  common::SignedEnvelope Answer(const AuthChallenge& challenge, const common::SigningKey& signer, std::string validator_id = "validator-1") {
    return *common::SignEnvelope(common::AuthEnvelope(validator_id, signer.public_key(), challenge.nonce), signer);
  }
};

TEST_F(MinerAuth, AnAnsweredChallengeOpensASessionForThatKey) {
  const AuthChallenge challenge = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0);
  EXPECT_EQ(challenge.expires_at_ms, 1000);
  common::Result<MinerSession> session = auth_.Authenticate(Answer(challenge, miner_), 10);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(session->token.size(), 64u);
  EXPECT_EQ(session->expires_at_ms, 5010);
  EXPECT_EQ(*auth_.SessionMiner(session->token, 20), miner_.public_key());
  EXPECT_EQ(auth_.SessionMiner(session->token, 5010).status().code(), common::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth_.SessionMiner("not-a-token", 20).status().code(), common::StatusCode::kUnauthenticated);
}

TEST_F(MinerAuth, ANonceWorksOnceEvenWhenItsFirstUseFailed) {
  const AuthChallenge challenge = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0);
  common::SignedEnvelope tampered = Answer(challenge, miner_);
  tampered.signature[0] ^= 1;
  EXPECT_EQ(auth_.Authenticate(tampered, 10).status().code(), common::StatusCode::kUnauthenticated);
  common::Result<MinerSession> replay = auth_.Authenticate(Answer(challenge, miner_), 20);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().message(), "unknown, used or expired nonce");
}

TEST_F(MinerAuth, RefusesAnswersThatDoNotMatchTheChallenge) {
  const common::SigningKey other = common::SigningKey::Generate();
  struct Case {
    const char* what;
    std::function<common::SignedEnvelope(const AuthChallenge&)> answer;
    const char* message;
  };
  const Case cases[] = {
      {"another key signs", [&](const AuthChallenge& c) { return Answer(c, other); }, "issued to another key"},
      {"another validator", [&](const AuthChallenge& c) { return Answer(c, miner_, "validator-2"); },
       "the proof's fields are not"},
      {"another purpose",
       [&](const AuthChallenge& c) {
         common::Envelope body = common::AuthEnvelope("validator-1", miner_.public_key(), c.nonce);
         body.domain = "gradients/checkpoint/v1";
         return *common::SignEnvelope(body, miner_);
       },
       "domain"},
  };
  for (const Case& c : cases) {
    const AuthChallenge challenge = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0);
    common::Result<MinerSession> session = auth_.Authenticate(c.answer(challenge), 10);
    ASSERT_FALSE(session.ok()) << c.what;
    EXPECT_EQ(session.status().code(), common::StatusCode::kUnauthenticated) << c.what;
    EXPECT_NE(session.status().message().find(c.message), std::string::npos) << c.what << ": " << session.status().message();
  }
  const AuthChallenge expired = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0);
  EXPECT_EQ(auth_.Authenticate(Answer(expired, miner_), 1000).status().code(), common::StatusCode::kUnauthenticated);
}

TEST_F(MinerAuth, AKeysNewestChallengesStayOpenWhoeverAsksInItsName) {
  // Someone else asks for challenges in the miner's name from another address: the oldest of the
  // key's challenges make room, so the miner's own newest one stays good.
  const AuthChallenge mine = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0);
  const AuthChallenge also_mine = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0);
  const AuthChallenge theirs = *auth_.IssueChallenge(miner_.public_key(), "ipv4:10.6.6.6", 0);
  (void)theirs;
  EXPECT_EQ(auth_.Authenticate(Answer(mine, miner_), 10).status().message(), "unknown, used or expired nonce");
  EXPECT_TRUE(auth_.Authenticate(Answer(also_mine, miner_), 10).ok());
}

TEST_F(MinerAuth, AnAddressHoldsFewOpenChallenges) {
  MinerAuthenticator auth{MinerAuthOptions{.validator_id = "validator-1", .challenge_ttl_ms = 1000,
                                           .max_challenges_per_peer = 3}};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(auth.IssueChallenge(common::SigningKey::Generate().public_key(), "ipv4:10.6.6.6", 0).ok());
  common::Result<AuthChallenge> refused = auth.IssueChallenge(common::SigningKey::Generate().public_key(), "ipv4:10.6.6.6", 0);
  EXPECT_EQ(refused.status().code(), common::StatusCode::kResourceExhausted);
  EXPECT_TRUE(auth.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0).ok());  // others are not held back
  EXPECT_TRUE(auth.IssueChallenge(common::SigningKey::Generate().public_key(), "ipv4:10.6.6.6", 1000).ok());  // expired
}

TEST_F(MinerAuth, AuthenticatingAgainReplacesTheKeysSession) {
  const MinerSession first = *auth_.Authenticate(Answer(*auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0), miner_), 0);
  const MinerSession second = *auth_.Authenticate(Answer(*auth_.IssueChallenge(miner_.public_key(), "ipv4:10.0.0.1", 0), miner_), 0);
  EXPECT_EQ(auth_.SessionMiner(first.token, 10).status().code(), common::StatusCode::kUnauthenticated);
  EXPECT_EQ(*auth_.SessionMiner(second.token, 10), miner_.public_key());
}

}  // namespace
}  // namespace gradients::validator
