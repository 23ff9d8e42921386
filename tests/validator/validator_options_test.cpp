#include "validator/validator_options.h"

#include <gtest/gtest.h>

namespace gradients {
namespace {

TEST(ValidatorOptions, TheExampleConfigIsValid) {
  Result<ValidatorOptions> options = LoadConfigFile<ValidatorOptions>(
      std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / ".." / ".." / "configs" / "validator.example.json", "validator");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->auth.validator_id, "my-validator");
  EXPECT_EQ(options->gateway.listen, "0.0.0.0:7400");
  EXPECT_EQ(options->models.at(0).name, "tinyllama-1.1b");
}

TEST(ValidatorOptions, EveryProblemIsReportedWithItsField) {
  const nlohmann::json config = {{"data_dir", "/tmp/v"},
                                 {"auth", {{"validator_id", std::string(65, 'v')}}},
                                 {"gateway", {{"listen", "no-port"}, {"tls_certificate_file", "cert.pem"}}},
                                 {"admin", {{"listen", "0.0.0.0:7401"}}},
                                 {"models", {{{"name", "no path"}}}}};
  Result<ValidatorOptions> options = ParseConfig<ValidatorOptions>(config, "validator");
  ASSERT_FALSE(options.ok());
  const std::string message = options.status().message();
  for (const char* expected :
       {"validator.auth.validator_id: must be 1 to 64 bytes", "validator.gateway.listen: expected host:port",
        "validator.gateway.tls_private_key_file: TLS needs both", "validator.models[0].path: required key is missing",
        "validator.admin.token_file: required when admin.listen is not a loopback address"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << " in:\n" << message;
  }
}

}  // namespace
}  // namespace gradients
