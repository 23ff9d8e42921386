// The validator's components wired together: what `gradients-validator` runs between start-up and
// a stop signal. The main only parses the command line, loads the config and waits for the signal.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <grpcpp/server.h>

#include "common/status.h"
#include "validator/admin_service.h"
#include "validator/data_directory.h"
#include "validator/miner_auth.h"
#include "validator/miner_gateway_service.h"
#include "validator/validator_options.h"

namespace gradients {

class ValidatorDaemon {
 public:
  // Opens the data directory, registers the configured models and datasets, resumes the tasks a
  // stop interrupted (pending and preparing ones are prepared), starts the MinerGateway and Admin
  // servers and the background preparer of new tasks; then writes <data_dir>/ports.json ({"gateway": port, "admin": port}), so ports
  // chosen by the system (":0") can be found. Errors name what failed.
  static Result<std::unique_ptr<ValidatorDaemon>> Start(const ValidatorOptions& options, ClockMs now_ms);
  ~ValidatorDaemon();

  int gateway_port() const { return gateway_port_; }
  int admin_port() const { return admin_port_; }
  // Stops taking calls, waits for the running ones (at most a few seconds) and for the preparer.
  // Idempotent.
  void Shutdown();

 private:
  ValidatorDaemon(DataDirectory data, const MinerAuthOptions& auth, AdminServiceOptions admin, const ClockMs& now_ms)
      : data_(std::move(data)),
        now_ms_(now_ms),
        auth_(auth),
        gateway_service_(auth_, *data_.store, now_ms),
        admin_service_(*data_.store, *data_.blobs, WithWakeUp(std::move(admin)), now_ms) {}
  AdminServiceOptions WithWakeUp(AdminServiceOptions admin);
  // Prepares pending tasks (and those a stop left preparing); one that cannot be prepared fails.
  Status PrepareTasks(int64_t now_ms);
  // The background preparer: runs PrepareTasks when a task is created, and every few seconds.
  void PrepareInBackground();
  Status StartGateway(const GatewayOptions& options);
  Status StartAdmin(const AdminOptions& options);

  DataDirectory data_;
  ClockMs now_ms_;
  MinerAuthenticator auth_;
  MinerGatewayService gateway_service_;
  AdminService admin_service_;
  std::unique_ptr<grpc::Server> gateway_, admin_;
  int gateway_port_ = 0, admin_port_ = 0;
  std::mutex preparer_mutex_;
  std::condition_variable preparer_wake_;
  bool task_created_ = false, stopping_ = false;
  std::thread preparer_;
};

}  // namespace gradients
