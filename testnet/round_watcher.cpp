#include "testnet/round_watcher.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "common/hex.h"
#include "common/keys.h"
#include "gradients/v1/admin.grpc.pb.h"

namespace gradients::testnet {
namespace {

using Clock = std::chrono::steady_clock;

// What the leaderboard calls each miner: its config's name and strategy, by public key.
std::map<std::string, std::pair<std::string, std::string>> MinerNames(const std::filesystem::path& dir,
                                                                      const LoadedTestnet& testnet) {
  std::map<std::string, std::pair<std::string, std::string>> names;
  for (const TestnetMiner& miner : testnet.miners) {
    common::Result<common::SigningKey> key = common::ReadKeyFile(InDir(dir, miner.options.key_file));
    if (!key.ok()) continue;
    const auto& bytes = key->public_key().bytes;
    names[std::string(bytes.begin(), bytes.end())] = {miner.name, miner.options.strategy.name};
  }
  return names;
}

std::string Lowercase(std::string_view name, std::string_view prefix) {
  std::string word(name.substr(name.starts_with(prefix) ? prefix.size() : 0));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

// Polls the validator's Admin service and prints each newly scored task and then the first weight
// set computed after it.
class RoundWatcher {
 public:
  RoundWatcher(const std::filesystem::path& dir, const LoadedTestnet& testnet, std::ostream& out)
      : dir_(dir), testnet_(testnet), out_(out) {}

  // One poll; false when the validator did not answer.
  bool Poll() {
    if (!stub_ || address_ != AdminAddress(dir_, testnet_)) {
      address_ = AdminAddress(dir_, testnet_);
      stub_ = v1::Admin::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    }
    v1::ListTasksRequest request;
    request.set_page_size(50);
    v1::ListTasksResponse tasks;
    if (!stub_->ListTasks(Context().get(), request, &tasks).ok()) return false;
    if (names_.size() < testnet_.miners.size()) names_ = MinerNames(dir_, testnet_);
    std::vector<const v1::Task*> oldest_first;
    for (const v1::Task& task : tasks.tasks()) oldest_first.insert(oldest_first.begin(), &task);
    for (const v1::Task* task : oldest_first) {
      const std::string& id = task->spec().task_id();
      const std::string status = Lowercase(v1::TaskStatus_Name(task->status()), "TASK_STATUS_");
      if (announced_[id] != status) {
        announced_[id] = status;
        if (task->status() != v1::TASK_STATUS_SCORED) {
          out_ << fmt::format("task {}: {}{}\n", id.substr(0, 12), status,
                              task->failure_reason().empty() ? "" : " (" + task->failure_reason() + ")")
               << std::flush;
        }
      }
      if (task->status() == v1::TASK_STATUS_SCORED && printed_.insert(id).second) PrintRound(*task);
    }
    if (unweighted_rounds_ > 0) PrintWeightsIfNew();
    return true;
  }

  int64_t rounds() const { return rounds_; }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  std::string NameOf(const std::string& key, bool strategy) const {
    auto found = names_.find(key);
    if (found != names_.end()) return strategy ? found->second.second : found->second.first;
    return strategy ? "?"
                    : "key " + common::ToHex(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size())).substr(0, 12);
  }

  void PrintRound(const v1::Task& task) {
    v1::GetTaskRequest request;
    request.set_task_id(task.spec().task_id());
    v1::GetTaskResponse detail;
    if (!stub_->GetTask(Context().get(), request, &detail).ok()) {
      printed_.erase(task.spec().task_id());
      return;
    }
    ++scored_;
    out_ << fmt::format("\nround {}: task {} scored ({} on {}, {} training rows, {} held out)\n", scored_,
                        task.spec().task_id().substr(0, 12), task.dataset_name(), task.spec().base_model_name(),
                        task.spec().training_rows(), task.test_rows());
    out_ << fmt::format("  {:<4} {:<16} {:<9} {:<14} {:>10} {:>7}\n", "rank", "miner", "strategy", "status",
                        "test loss", "points");
    for (const v1::Submission& submission : detail.submissions()) {
      out_ << fmt::format("  {:<4} {:<16} {:<9} {:<14} {:>10} {:>7g}\n",
                          submission.rank() == 0 ? "-" : std::to_string(submission.rank()),
                          NameOf(submission.miner_public_key(), false), NameOf(submission.miner_public_key(), true),
                          Lowercase(v1::SubmissionStatus_Name(submission.status()), "SUBMISSION_STATUS_"),
                          submission.has_test_loss() ? fmt::format("{:.4f}", submission.test_loss()) : "-",
                          submission.points());
    }
    out_ << std::flush;
    // The weights that count this round are those of a set computed after it was scored (sets are
    // computed every weights.interval_ms).
    latest_scored_ns_ = std::max(latest_scored_ns_, Nanoseconds(task.updated_at()));
    ++unweighted_rounds_;
  }

  static int64_t Nanoseconds(const google::protobuf::Timestamp& time) {
    return time.seconds() * 1'000'000'000 + time.nanos();
  }

  void PrintWeightsIfNew() {
    v1::GetCurrentWeightsResponse current;
    if (!stub_->GetCurrentWeights(Context().get(), v1::GetCurrentWeightsRequest(), &current).ok()) return;
    const v1::WeightSet& set = current.weights();
    if (set.id() == 0 || Nanoseconds(set.computed_at()) < latest_scored_ns_) return;
    rounds_ += unweighted_rounds_;
    unweighted_rounds_ = 0;
    out_ << fmt::format("weights (set {}{}):\n", set.id(),
                        set.published_to().empty() ? "" : ", published to " + set.published_to());
    for (const v1::MinerWeight& weight : set.weights()) {
      out_ << fmt::format("  {:<16} {:<9} {:.4f}\n", NameOf(weight.miner_public_key(), false),
                          NameOf(weight.miner_public_key(), true), weight.weight());
    }
    out_ << std::flush;
  }

  std::filesystem::path dir_;
  const LoadedTestnet& testnet_;
  std::ostream& out_;
  std::string address_;
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::map<std::string, std::pair<std::string, std::string>> names_;
  std::map<std::string, std::string> announced_;
  std::set<std::string> printed_;
  int64_t scored_ = 0;
  int64_t rounds_ = 0;             // scored and weighted
  int64_t unweighted_rounds_ = 0;  // scored, waiting for a weight set computed after them
  int64_t latest_scored_ns_ = 0;
};

}  // namespace

int WatchRounds(const TestnetOptions& options, const LoadedTestnet& testnet, const std::atomic<bool>& stop,
                const std::function<std::string()>& dead_daemon, std::ostream& out, std::ostream& err) {
  RoundWatcher watcher(options.dir, testnet, out);
  const auto started = Clock::now();
  auto last_answer = Clock::now();
  while (!stop) {
    if (watcher.Poll()) {
      last_answer = Clock::now();
    } else if (Clock::now() - last_answer > std::chrono::seconds(60)) {
      err << "gradients testnet: the validator's Admin service at " << AdminAddress(options.dir, testnet)
          << " has not answered for a minute\n";
      return 1;
    }
    if (options.rounds > 0 && watcher.rounds() >= options.rounds) return 0;
    if (const std::string dead = dead_daemon ? dead_daemon() : ""; !dead.empty()) {
      err << "gradients testnet: " << dead << "\n";
      return 1;
    }
    if (options.timeout_seconds > 0 && Clock::now() - started > std::chrono::seconds(options.timeout_seconds)) {
      err << "gradients testnet: " << watcher.rounds() << " round(s) scored"
          << (options.rounds > 0 ? " of " + std::to_string(options.rounds) : std::string()) << " after "
          << options.timeout_seconds << " s (--timeout)\n";
      return 1;
    }
    for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

}  // namespace gradients::testnet
