// The validator's components wired together: what `gradients-validator` runs between start-up and
// a stop signal. The main only parses the command line, loads the config and waits for the signal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <grpcpp/server.h>

#include "common/status.h"
#include "validator/market/checkpoint_uploads.h"
#include "validator/market/miner_auth.h"
#include "validator/rewards/weight_publication.h"
#include "validator/rpc/admin_service.h"
#include "validator/rpc/metrics.h"
#include "validator/rpc/metrics_server.h"
#include "validator/rpc/miner_gateway_service.h"
#include "validator/state/data_directory.h"
#include "validator/validator_options.h"

namespace gradients::validator {

class ValidatorDaemon {
 public:
  // Opens the data directory, registers the configured models and datasets, resumes the tasks a
  // stop interrupted (pending and preparing ones are prepared), starts the MinerGateway and Admin
  // servers and the background task loop (preparation, offer windows); then writes <data_dir>/ports.json ({"gateway": port, "admin": port}), so ports
  // chosen by the system (":0") can be found. Errors name what failed.
  static common::Result<std::unique_ptr<ValidatorDaemon>> Start(const ValidatorOptions& options, common::ClockMs now_ms);
  ~ValidatorDaemon();

  int gateway_port() const { return gateway_port_; }
  int admin_port() const { return admin_port_; }
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  // Ends the offer streams, stops taking calls, waits for the running ones (at most a few seconds)
  // and for the task loop.
  // Idempotent.
  void Shutdown();

 private:
  ValidatorDaemon(DataDirectory data, std::unique_ptr<CheckpointUploads> uploads, const ValidatorOptions& options,
                  AdminServiceOptions admin, const common::ClockMs& now_ms)
      : data_(std::move(data)),
        now_ms_(now_ms),
        auth_(options.auth),
        uploads_(std::move(uploads)),
        offer_options_(options.offers),
        offers_(options.offers),
        evaluation_options_(options.evaluation),
        scoring_options_(options.scoring),
        weight_options_(options.weights),
        retention_options_(options.retention),
        scheduler_(options.scheduler, options.tasks),
        gateway_service_(auth_, *data_.store, *data_.store, *data_.store, *data_.store, *data_.store, *data_.blobs,
                         *uploads_, offers_, now_ms, options.gateway.miner_limits),
        admin_service_(*data_.store, *data_.blobs, WithWakeUp(std::move(admin)), now_ms) {}
  AdminServiceOptions WithWakeUp(AdminServiceOptions admin);
  // Prepares pending tasks (and those a stop left preparing); one that cannot be prepared fails.
  common::Status PrepareTasks(int64_t now_ms);
  // Settles closed offer windows and hands the open offers to the board.
  common::Status AdvanceOffers(int64_t now_ms);
  // The background task loop: prepares tasks when one is created and every few seconds, and
  // advances the offers every second.
  void RunTaskLoop();
  // The evaluator: tasks past their deadline are evaluated one at a time, each submission in a
  // child process; stopping kills the running child (the rest is evaluated after a restart).
  void RunEvaluations();
  common::Status EvaluateDueTasks();
  // Publishes a weight set every interval (validator/rewards/weight_publication.h).
  void RunWeightPublication();
  // Removes the blobs no record needs any more, every interval (validator/state/blob_retention.h).
  void RunBlobRemoval();
  // Waits `interval` or until the daemon stops; true when it stops.
  bool WaitUnlessStopping(std::chrono::milliseconds interval);
  common::Status StartGateway(const GatewayOptions& options);
  common::Status StartAdmin(const AdminOptions& options);
  // The metrics the daemon exposes, read from its parts when scraped.
  void RegisterMetrics();

  DataDirectory data_;
  common::ClockMs now_ms_;
  MinerAuthenticator auth_;
  std::unique_ptr<CheckpointUploads> uploads_;
  const OfferOptions offer_options_;
  OfferBoard offers_;
  EvaluationOptions evaluation_options_;
  const ScoringOptions scoring_options_;
  const WeightPublicationOptions weight_options_;
  const RetentionOptions retention_options_;
  TaskScheduler scheduler_;  // used by the task loop only
  MinerGatewayService gateway_service_;
  AdminService admin_service_;
  std::unique_ptr<grpc::Server> gateway_, admin_;
  Metrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  int gateway_port_ = 0, admin_port_ = 0;
  std::mutex loop_mutex_;
  std::condition_variable loop_wake_;
  bool task_created_ = false, stopping_ = false;
  std::thread task_loop_;
  std::atomic<bool> stop_evaluating_{false};
  std::thread evaluator_;
  std::thread publisher_;
  std::thread blob_remover_;
  std::atomic<int64_t> blobs_removed_{0}, blob_bytes_removed_{0};
};

}  // namespace gradients::validator
