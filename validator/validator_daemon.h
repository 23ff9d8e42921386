// The validator's components wired together: what `gradients-validator` runs between start-up and
// a stop signal. The main only parses the command line, loads the config and waits for the signal.
#pragma once

#include <memory>

#include <grpcpp/server.h>

#include "common/status.h"
#include "validator/data_directory.h"
#include "validator/miner_auth.h"
#include "validator/miner_gateway_service.h"
#include "validator/validator_options.h"

namespace gradients {

class ValidatorDaemon {
 public:
  // Opens the data directory, registers the configured models and datasets, resumes the tasks a
  // stop interrupted (pending and preparing ones are prepared), and starts the MinerGateway server;
  // then writes <data_dir>/ports.json ({"gateway": port}), so a port chosen by the system (":0")
  // can be found. Errors name what failed.
  static Result<std::unique_ptr<ValidatorDaemon>> Start(const ValidatorOptions& options, ClockMs now_ms);
  ~ValidatorDaemon();

  int gateway_port() const { return gateway_port_; }
  // Stops taking calls and waits for the running ones (at most a few seconds). Idempotent.
  void Shutdown();

 private:
  ValidatorDaemon(DataDirectory data, const MinerAuthOptions& auth, ClockMs now_ms)
      : data_(std::move(data)), auth_(auth), gateway_service_(auth_, std::move(now_ms)) {}
  Status ResumeTasks(int64_t now_ms);
  Status StartGateway(const GatewayOptions& options);

  DataDirectory data_;
  MinerAuthenticator auth_;
  MinerGatewayService gateway_service_;
  std::unique_ptr<grpc::Server> gateway_;
  int gateway_port_ = 0;
};

}  // namespace gradients
