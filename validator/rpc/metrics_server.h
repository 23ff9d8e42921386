// A small HTTP server (Boost.Beast) for monitoring: GET /metrics answers Prometheus' text format,
// GET /healthz answers 200 "ok" while the validator's store answers, 503 otherwise. Anything else
// is 404. One thread; requests are small and handled one at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "validator/rpc/metrics.h"

namespace gradients::validator {

class MetricsServer {
 public:
  // Listens on `listen` (host:port; port 0 picks one). `healthy` is asked on each /healthz.
  static common::Result<std::unique_ptr<MetricsServer>> Start(const std::string& listen, const Metrics& metrics,
                                                      std::function<bool()> healthy);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  struct State;
  explicit MetricsServer(std::unique_ptr<State> state);
  static void Accept(State& state);
  std::unique_ptr<State> state_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace gradients::validator
