// The validator's metrics in Prometheus' text exposition format (served on /metrics by
// validator/rpc/metrics_server.h): counters the services bump as things happen, and gauges read at
// scrape time (tasks by status, connected miners). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace gradients::validator {

class Metrics {
 public:
  // Adds `value` to counter `name` with `labels` ("outcome=\"scored\"", empty: none); `help` is
  // shown once per name.
  void Add(const std::string& name, const std::string& help, double value, const std::string& labels = "");
  // A gauge, or a counter kept elsewhere, read when scraped: a callback returning label set -> value.
  void Gauge(const std::string& name, const std::string& help,
             std::function<std::map<std::string, double>()> read);
  void CounterFrom(const std::string& name, const std::string& help,
                   std::function<std::map<std::string, double>()> read);
  std::string Render() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // counter | gauge
    std::map<std::string, double> values;  // by label set
    std::function<std::map<std::string, double>()> read;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace gradients::validator
