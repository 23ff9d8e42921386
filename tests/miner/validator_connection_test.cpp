#include "miner/validator_connection.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <thread>

#include "tests/miner/validator_process.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

// GetMyResults: the simplest call that needs a session.
grpc::Status MyResults(ValidatorConnection& connection) {
  return connection.Call([&](grpc::ClientContext& context) {
    v1::GetMyResultsResponse results;
    return connection.stub().GetMyResults(&context, v1::GetMyResultsRequest(), &results);
  });
}

TEST(ValidatorConnection, AuthenticatesOnTheFirstCallAndAgainAfterTheValidatorRestarts) {
  testing::TempDir dir;
  ValidatorProcess validator(dir.path());
  ASSERT_TRUE(validator.Start());
  const common::SigningKey key = common::SigningKey::Generate();
  common::Result<std::unique_ptr<ValidatorConnection>> connection = ValidatorConnection::Open(
      {.address = validator.gateway(), .validator_id = "validator-under-test", .tls_ca_file = ""}, key,
      "gradients-miner/test", {.initial_backoff_ms = 100, .max_backoff_ms = 500});
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_EQ((*connection)->validator_id(), "");
  grpc::Status status = MyResults(**connection);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ((*connection)->validator_id(), "validator-under-test");

  // Sessions live in the validator's memory: a restarted validator answers the old one with
  // UNAUTHENTICATED, and the connection wins a new one without the caller seeing it.
  validator.Kill();
  grpc::Status down = MyResults(**connection);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE) << down.error_message();
  ASSERT_TRUE(validator.Start());
  for (int i = 0; i < 50 && !(status = MyResults(**connection)).ok(); ++i) {  // the channel reconnects first
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
  connection->reset();  // an open channel would hold the validator's shutdown to its grace period
  EXPECT_EQ(validator.Stop(), 0);
}

// A validator started for the test and a connection to it that expects `validator_id`.
class RunningValidator : public ::testing::Test {
 protected:
  std::unique_ptr<ValidatorConnection> Connect(const std::string& validator_id) {
    return std::move(*ValidatorConnection::Open(
        {.address = validator_.gateway(), .validator_id = validator_id, .tls_ca_file = ""}, key_, "test"));
  }

  testing::TempDir dir_;
  ValidatorProcess validator_{dir_.path()};
  const common::SigningKey key_ = common::SigningKey::Generate();
};

TEST_F(RunningValidator, ACallStillRefusedAfterOneRenewalReturnsTheRefusalInsteadOfLooping) {
  ASSERT_TRUE(validator_.Start());
  std::unique_ptr<ValidatorConnection> connection = Connect("validator-under-test");
  ASSERT_TRUE(connection->Authenticate().ok());
  int calls = 0;
  grpc::Status status = connection->Call([&](grpc::ClientContext&) {
    ++calls;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "refused by the test");
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(calls, 2);  // once, then once more with a renewed session: no loop
  connection.reset();
  EXPECT_EQ(validator_.Stop(), 0);
}

TEST_F(RunningValidator, AChallengeFromAnotherValidatorIsNotSigned) {
  ASSERT_TRUE(validator_.Start());
  std::unique_ptr<ValidatorConnection> connection = Connect("the-one-i-trust");
  common::Status refused = connection->Authenticate();
  EXPECT_EQ(refused.code(), common::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.message().find("the challenge names validator \"validator-under-test\", not \"the-one-i-trust\""),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(MyResults(*connection).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  connection.reset();
  EXPECT_EQ(validator_.Stop(), 0);
}

TEST(ValidatorConnection, AMissingTlsRootsFileIsAnErrorNamingIt) {
  common::Result<std::unique_ptr<ValidatorConnection>> connection =
      ValidatorConnection::Open({.address = "127.0.0.1:1", .validator_id = "v", .tls_ca_file = "/nonexistent/ca.pem"},
                                common::SigningKey::Generate(), "test");
  ASSERT_FALSE(connection.ok());
  EXPECT_NE(connection.status().message().find("tls_ca_file"), std::string::npos) << connection.status().message();
}

TEST(ReconnectBackoff, DoublesUpToTheLongestWithJitterAndStartsOverAfterASuccess) {
  ReconnectBackoff backoff({.initial_backoff_ms = 1000, .max_backoff_ms = 5000}, 7);
  const int64_t ceilings[] = {1000, 2000, 4000, 5000, 5000};
  std::set<int64_t> seen;
  for (int64_t ceiling : ceilings) {
    const int64_t delay = backoff.NextDelay().count();
    EXPECT_GE(delay, ceiling / 2);
    EXPECT_LE(delay, ceiling);
    seen.insert(delay);
  }
  EXPECT_GT(seen.size(), 1u);
  backoff.Reset();
  EXPECT_LE(backoff.NextDelay().count(), 1000);
}

}  // namespace
}  // namespace gradients::miner
