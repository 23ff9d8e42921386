#include "miner/validator_connection.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients {
namespace {

using testing::BackgroundProcess;

// A loopback port nothing listens on right now (the kernel's pick, released at once).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

class ValidatorConnectionTest : public ::testing::Test {
 protected:
  std::unique_ptr<BackgroundProcess> StartValidator() {
    std::filesystem::remove(dir_ / "data" / "ports.json");
    const nlohmann::json config = {{"data_dir", (dir_ / "data").string()},
                                   {"gateway", {{"listen", address_}}},
                                   {"admin", {{"listen", "127.0.0.1:0"}}},
                                   {"auth", {{"validator_id", "validator-under-test"}}}};
    std::ofstream(dir_ / "validator.json") << config.dump();
    auto process = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()},
        dir_ / "validator.log");
    for (int i = 0; i < 600 && !std::filesystem::exists(dir_ / "data" / "ports.json"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "ports.json")) << *ReadFileToString(dir_ / "validator.log", 1 << 20);
    return process;
  }
  // GetMyResults: the simplest call that needs a session.
  static grpc::Status MyResults(ValidatorConnection& connection) {
    return connection.Call([&](grpc::ClientContext& context) {
      v1::GetMyResultsResponse results;
      return connection.stub().GetMyResults(&context, v1::GetMyResultsRequest(), &results);
    });
  }

  testing::TempDir dir_;
  const std::string address_ = "127.0.0.1:" + std::to_string(FreePort());
  const SigningKey key_ = SigningKey::Generate();
};

TEST_F(ValidatorConnectionTest, AuthenticatesOnTheFirstCallAndAgainAfterTheValidatorRestarts) {
  std::unique_ptr<BackgroundProcess> validator = StartValidator();
  Result<std::unique_ptr<ValidatorConnection>> connection =
      ValidatorConnection::Open({.address = address_, .tls_ca_file = ""}, key_, "gradients-miner/test");
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_EQ((*connection)->validator_id(), "");
  grpc::Status status = MyResults(**connection);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ((*connection)->validator_id(), "validator-under-test");

  // Sessions live in the validator's memory: a restarted validator answers the old one with
  // UNAUTHENTICATED, and the connection wins a new one without the caller seeing it.
  validator->Signal(SIGKILL);
  validator->WaitFor(std::chrono::seconds(20));
  grpc::Status down = MyResults(**connection);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE) << down.error_message();
  validator = StartValidator();
  status = MyResults(**connection);
  EXPECT_TRUE(status.ok()) << status.error_message();
  connection->reset();  // an open channel would hold the validator's shutdown to its grace period
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0);
}

TEST_F(ValidatorConnectionTest, ACallStillRefusedAfterOneRenewalReturnsTheRefusalInsteadOfLooping) {
  std::unique_ptr<BackgroundProcess> validator = StartValidator();
  auto connection = std::move(*ValidatorConnection::Open({.address = address_, .tls_ca_file = ""}, key_, "test"));
  ASSERT_TRUE(connection->Authenticate().ok());
  int calls = 0;
  grpc::Status status = connection->Call([&](grpc::ClientContext&) {
    ++calls;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "refused by the test");
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(calls, 2);  // once, then once more with a renewed session: no loop
  connection.reset();
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0);
}

TEST(ValidatorConnection, AMissingTlsRootsFileIsAnErrorNamingIt) {
  Result<std::unique_ptr<ValidatorConnection>> connection = ValidatorConnection::Open(
      {.address = "127.0.0.1:1", .tls_ca_file = "/nonexistent/ca.pem"}, SigningKey::Generate(), "test");
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
}  // namespace gradients
