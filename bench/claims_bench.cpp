// claims_bench: the validator's store taking claims (bench/RESULTS.md). Each acknowledged claim is a
// durable SQLite commit (WAL, synchronous=FULL); claims that arrive together, as they do when a
// wave of offers goes out, share one commit. The same number of claims one after another (a commit
// each) and from many threads at once, on a real database file in --dir.
//   claims_bench --dir DIR [--claims 320] [--threads 32]
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "validator/state/sqlite_store.h"

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using gradients::validator::TaskStatus;
  const std::filesystem::path dir = Flag(argc, argv, "dir", "");
  const int claims = std::stoi(Flag(argc, argv, "claims", "320"));
  const int threads = std::stoi(Flag(argc, argv, "threads", "32"));
  if (dir.empty() || claims < threads || threads < 1) {
    std::fprintf(stderr, "usage: claims_bench --dir DIR [--claims N] [--threads T <= N]\n");
    return 2;
  }
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / "claims_bench.db");
  auto store = gradients::validator::SqliteStore::Open(dir / "claims_bench.db");
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  gradients::validator::Store& db = **store;
  (void)db.AddModel({.hash = "m", .name = "model", .files = {}, .added_at_ms = 1});
  (void)db.AddDataset({.hash = "d", .name = "qa", .format = "jsonl", .bytes = 1, .split_seed = "s", .added_at_ms = 1});
  // One task per thread, with room for every claim; the same again for the sequential run.
  for (int t = 0; t < 2 * threads; ++t) {
    const std::string id = "t" + std::to_string(t);
    gradients::common::Status status = db.CreateTask({.id = id, .type = "instruct", .model_hash = "m", .dataset_hash = "d",
                                              .columns = {}, .duration_s = 3600, .pool_size = claims,
                                              .created_at_ms = 1, .updated_at_ms = 1});
    if (status.ok()) status = db.TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", 2);
    if (status.ok()) status = db.OpenOffers(id, 1'000'000, 900'000, "", 3);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
  }
  const auto claim = [&](int task, int miner) {
    if (!db.ClaimTask("t" + std::to_string(task), "miner-" + std::to_string(miner), "nonce", 4).ok()) std::abort();
  };
  using Clock = std::chrono::steady_clock;
  auto started = Clock::now();
  for (int i = 0; i < claims; ++i) claim(threads + i % threads, i);
  const double sequential_s = std::chrono::duration<double>(Clock::now() - started).count();
  started = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = t; i < claims; i += threads) claim(t, i);
    });
  }
  for (std::thread& worker : workers) worker.join();
  const double concurrent_s = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("%d claims: one after another %.3f s (%.3f ms each); from %d threads at once %.3f s (%.3f ms each)\n",
              claims, sequential_s, 1000 * sequential_s / claims, threads, concurrent_s, 1000 * concurrent_s / claims);
  return 0;
}
