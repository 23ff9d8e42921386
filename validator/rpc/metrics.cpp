#include "validator/rpc/metrics.h"

#include <fmt/format.h>

namespace gradients::validator {

void Metrics::Add(const std::string& name, const std::string& help, double value, const std::string& labels) {
  std::lock_guard lock(mutex_);
  Family& family = families_[name];
  family.help = help;
  family.type = "counter";
  family.values[labels] += value;
}

void Metrics::Gauge(const std::string& name, const std::string& help,
                    std::function<std::map<std::string, double>()> read) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{.help = help, .type = "gauge", .values = {}, .read = std::move(read)};
}

void Metrics::CounterFrom(const std::string& name, const std::string& help,
                          std::function<std::map<std::string, double>()> read) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{.help = help, .type = "counter", .values = {}, .read = std::move(read)};
}

std::string Metrics::Render() const {
  std::map<std::string, Family> families;
  {
    std::lock_guard lock(mutex_);
    families = families_;
  }
  std::string out;
  for (auto& [name, family] : families) {
    if (family.read) family.values = family.read();  // outside the lock: it may query the store
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, family.help, name, family.type);
    for (const auto& [labels, value] : family.values) {
      out += labels.empty() ? fmt::format("{} {}\n", name, value) : fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
  }
  return out;
}

}  // namespace gradients::validator
