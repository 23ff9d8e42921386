#include "common/subprocess.h"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "common/durable_file.h"
#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

SubprocessOptions Shell(const std::string& script) {
  SubprocessOptions options;
  options.argv = {"/bin/sh", "-c", script};
  options.stdout_options.mode = OutputMode::kCapture;
  options.stderr_options.mode = OutputMode::kCapture;
  return options;
}

SubprocessResult RunWithin30s(const SubprocessOptions& options) {
  Result<SubprocessResult> result = RunSubprocess(options, steady_clock::now() + std::chrono::seconds(30));
  EXPECT_TRUE(result.ok()) << result.status().message();
  return result.ok() ? *result : SubprocessResult{};
}

std::string FileText(const std::filesystem::path& path) {
  Result<std::string> text = ReadFileToString(path, 1 << 20);
  return text.ok() ? *text : "unreadable " + path.string();
}

// Alive and not a zombie: a grandchild whose parent died may wait for init to reap it.
bool ProcessRuns(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t state = line.rfind(')');
  return state != std::string::npos && state + 2 < line.size() && line[state + 2] != 'Z';
}

bool EndsWithin(pid_t pid, std::chrono::seconds limit) {
  const auto until = steady_clock::now() + limit;
  while (ProcessRuns(pid) && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(20));
  return !ProcessRuns(pid);
}

TEST(Subprocess, ReportsTheExitCodeAndCapturesStdoutAndStderr) {
  SubprocessResult result = RunWithin30s(Shell("echo verdict; echo first >&2; echo last >&2; exit 3"));
  EXPECT_EQ(result.ended.exit_code, 3);
  EXPECT_EQ(result.ended.signal, 0);
  EXPECT_EQ(result.out, "verdict\n");
  EXPECT_EQ(result.err, "first\nlast\n");
  EXPECT_FALSE(result.timed_out);
  EXPECT_FALSE(result.out_truncated);

  SubprocessResult killed = RunWithin30s(Shell("kill -9 $$"));
  EXPECT_EQ(killed.ended.exit_code, -1);
  EXPECT_EQ(killed.ended.signal, SIGKILL);
}

TEST(Subprocess, KeepsTheFirstBytesOfStdoutAndTheLastOfStderrWithinTheirBounds) {
  SubprocessOptions options = Shell("head -c 100000 /dev/zero; head -c 5000 /dev/zero >&2; echo end >&2");
  options.stdout_options.max_bytes = 1000;
  options.stderr_options.max_bytes = 4;
  options.stderr_options.keep_last = true;
  SubprocessResult result = RunWithin30s(options);
  EXPECT_EQ(result.ended.exit_code, 0);
  EXPECT_EQ(result.out, std::string(1000, '\0'));
  EXPECT_TRUE(result.out_truncated);
  EXPECT_EQ(result.err, "end\n");
  EXPECT_TRUE(result.err_truncated);
}

TEST(Subprocess, InheritsAddsToOrReplacesTheEnvironment) {
  ASSERT_EQ(setenv("GRADIENTS_SUBPROCESS_TEST", "ours", 1), 0);
  SubprocessOptions options = Shell("echo \"$GRADIENTS_SUBPROCESS_TEST/$ADDED/${HOME:+home}\"");
  EXPECT_EQ(RunWithin30s(options).out, "ours//home\n");

  options.environment_mode = EnvironmentMode::kAdd;
  options.environment = {"ADDED=yes", "GRADIENTS_SUBPROCESS_TEST=theirs"};
  EXPECT_EQ(RunWithin30s(options).out, "theirs/yes/home\n");

  options.environment_mode = EnvironmentMode::kReplace;
  options.environment = {"ADDED=alone"};
  EXPECT_EQ(RunWithin30s(options).out, "/alone/\n");
  unsetenv("GRADIENTS_SUBPROCESS_TEST");
}

TEST(Subprocess, RunsInTheWorkingDirectoryItIsGivenAndFindsProgramsOnPathWhenAsked) {
  testing::TempDir dir;
  SubprocessOptions options = Shell("pwd");
  options.argv[0] = "sh";
  options.search_path = true;
  options.working_directory = dir.path();
  EXPECT_EQ(RunWithin30s(options).out, std::filesystem::canonical(dir.path()).string() + "\n");

  options.working_directory = dir / "missing";
  Result<SubprocessResult> missing = RunSubprocess(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "cannot change to directory " + (dir / "missing").string() + ": No such file or directory");
}

TEST(Subprocess, ReadsStdinFromDevNullOrAFile) {
  testing::TempDir dir;
  SubprocessOptions options;
  options.argv = {"/bin/cat"};
  options.stdout_options.mode = OutputMode::kCapture;
  EXPECT_EQ(RunWithin30s(options).out, "");

  ASSERT_TRUE(WriteFileDurably(dir / "in.txt", "weights\n").ok());
  options.stdin_file = dir / "in.txt";
  EXPECT_EQ(RunWithin30s(options).out, "weights\n");
}

TEST(Subprocess, AppendsStdoutAndStderrToAFileOrDiscardsThem) {
  testing::TempDir dir;
  SubprocessOptions options;
  options.argv = {"/bin/sh", "-c", "echo out; echo err >&2"};
  options.stdout_options = {.mode = OutputMode::kAppendToFile, .file = dir / "log"};
  options.stderr_options.mode = OutputMode::kToStdout;
  EXPECT_EQ(RunWithin30s(options).ended.exit_code, 0);
  EXPECT_EQ(RunWithin30s(options).ended.exit_code, 0);
  EXPECT_EQ(FileText(dir / "log"), "out\nerr\nout\nerr\n");

  options.stdout_options = {.mode = OutputMode::kDiscard};
  options.stderr_options = {.mode = OutputMode::kAppendToFile, .file = dir / "errors"};
  EXPECT_EQ(RunWithin30s(options).ended.exit_code, 0);
  EXPECT_EQ(FileText(dir / "errors"), "err\n");
  EXPECT_EQ(FileText(dir / "log"), "out\nerr\nout\nerr\n");
}

TEST(Subprocess, AChildPastItsDeadlineIsKilledWithWhatItStarted) {
  testing::TempDir dir;
  const auto started = steady_clock::now();
  SubprocessOptions options = Shell("sleep 30 & echo $! > grandchild; sleep 30");
  options.working_directory = dir.path();
  Result<SubprocessResult> result = RunSubprocess(options, steady_clock::now() + milliseconds(300));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->timed_out);
  EXPECT_FALSE(result->cancelled);
  EXPECT_EQ(result->ended.signal, SIGKILL);
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
  const pid_t grandchild = std::stoi(FileText(dir / "grandchild"));
  EXPECT_TRUE(EndsWithin(grandchild, std::chrono::seconds(5)));

  // One that closes its output and goes on running is held to the deadline too.
  Result<SubprocessResult> quiet =
      RunSubprocess(Shell("exec >/dev/null 2>&1; sleep 30"), steady_clock::now() + milliseconds(300));
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->timed_out);
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(Subprocess, ACancelledChildIsKilled) {
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel = true;
  });
  const auto started = steady_clock::now();
  Result<SubprocessResult> result = RunSubprocess(Shell("sleep 30"), std::nullopt, &cancel);
  canceller.join();
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->cancelled);
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->ended.signal, SIGKILL);
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(Subprocess, AppliesTheResourceLimits) {
  // dash reports the address space in KiB and file sizes in 512-byte blocks.
  SubprocessOptions options = Shell("ulimit -v; ulimit -t; ulimit -f; ulimit -n; ulimit -c");
  options.limits = {.address_space_bytes = 256 << 20,
                    .cpu_seconds = 7,
                    .file_size_bytes = 8192,
                    .open_files = 32,
                    .core_dumps = false};
  EXPECT_EQ(RunWithin30s(options).out, "262144\n7\n16\n32\n0\n");

  testing::TempDir dir;
  SubprocessOptions writer = Shell("head -c 100000 /dev/zero > big; exit $?");
  writer.working_directory = dir.path();
  writer.limits.file_size_bytes = 4096;
  EXPECT_EQ(RunWithin30s(writer).ended.exit_code, 128 + SIGXFSZ);
  EXPECT_EQ(std::filesystem::file_size(dir / "big"), 4096u);

  SubprocessOptions busy = Shell("while :; do :; done");
  busy.limits.cpu_seconds = 1;
  SubprocessResult cpu = RunWithin30s(busy);
  EXPECT_FALSE(cpu.timed_out);
  EXPECT_EQ(cpu.ended.signal, SIGXCPU);
}

TEST(Subprocess, RunsInItsOwnProcessGroupOrOursAndStartsWithNoSignalBlocked) {
  // Field 5 of /proc/PID/stat: the process group.
  SubprocessOptions group = Shell("echo $$ $(cut -d' ' -f5 /proc/$$/stat)");
  // grep reads its own mask, the one it was started with (a shell blocks signals of its own while it
  // waits for a command substitution, so it cannot be asked).
  SubprocessOptions mask = Shell("");
  mask.argv = {"grep", "SigBlk", "/proc/self/status"};
  mask.search_path = true;
  sigset_t blocked, previous;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &blocked, &previous), 0);
  const std::string own = RunWithin30s(group).out;
  const std::string mask_seen = RunWithin30s(mask).out;
  group.own_process_group = false;
  const std::string ours = RunWithin30s(group).out;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  const std::string own_pid = own.substr(0, own.find(' '));
  EXPECT_EQ(own.substr(0, own.find('\n')), own_pid + " " + own_pid);
  EXPECT_NE(mask_seen.find("SigBlk:\t0000000000000000"), std::string::npos) << mask_seen;
  EXPECT_EQ(ours.substr(ours.find(' ') + 1, ours.find('\n') - ours.find(' ') - 1), std::to_string(getpgrp()));
}

TEST(Subprocess, TryWaitSaysWhenADaemonEndedAndKillEndsItsGroup) {
  testing::TempDir dir;
  SubprocessOptions options;
  options.argv = {"/bin/sh", "-c", "trap 'exit 5' TERM; sleep 30 & echo $! > grandchild; wait"};
  options.working_directory = dir.path();
  Result<Subprocess> daemon = Subprocess::Spawn(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status().message();
  EXPECT_FALSE(daemon->TryWait().has_value());
  while (!std::filesystem::exists(dir / "grandchild")) std::this_thread::sleep_for(milliseconds(10));
  std::this_thread::sleep_for(milliseconds(50));
  daemon->Signal(SIGTERM);
  std::optional<ExitStatus> ended;
  for (int i = 0; i < 500 && !ended; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    ended = daemon->TryWait();
  }
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->exit_code, 5);
  // Signal reaches the child alone: what it started runs on until the group is killed.
  const pid_t grandchild = std::stoi(FileText(dir / "grandchild"));
  EXPECT_TRUE(ProcessRuns(grandchild));
  kill(grandchild, SIGKILL);

  Result<Subprocess> sleeper = Subprocess::Spawn({.argv = {"/bin/sleep", "30"}});
  ASSERT_TRUE(sleeper.ok());
  const pid_t pid = sleeper->pid();
  sleeper->Kill();
  EXPECT_EQ(sleeper->TryWait()->signal, SIGKILL);
  EXPECT_FALSE(ProcessRuns(pid));
  {
    Result<Subprocess> dropped = Subprocess::Spawn({.argv = {"/bin/sleep", "30"}});
    ASSERT_TRUE(dropped.ok());
    sleeper = std::move(dropped);
  }
  const pid_t dropped_pid = sleeper->pid();
  sleeper = Subprocess::Spawn({.argv = {"/bin/true"}});
  EXPECT_FALSE(ProcessRuns(dropped_pid));  // replaced: killed and reaped
}

TEST(Subprocess, AProgramThatCannotBeStartedIsAClearError) {
  Result<SubprocessResult> missing = RunSubprocess({.argv = {"/nonexistent/gradients", "eval"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "cannot run /nonexistent/gradients: No such file or directory");

  Result<SubprocessResult> not_on_path =
      RunSubprocess({.argv = {"gradients-no-such-program"}, .search_path = true});
  ASSERT_FALSE(not_on_path.ok());
  EXPECT_EQ(not_on_path.status().message(), "cannot run gradients-no-such-program: No such file or directory");

  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "not-executable", "#!/bin/sh\n").ok());
  Result<SubprocessResult> denied = RunSubprocess({.argv = {(dir / "not-executable").string()}});
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);

  Result<SubprocessResult> no_stdin = RunSubprocess({.argv = {"/bin/cat"}, .stdin_file = dir / "missing"});
  ASSERT_FALSE(no_stdin.ok());
  EXPECT_EQ(no_stdin.status().message(),
            "cannot open " + (dir / "missing").string() + " for stdin: No such file or directory");

  EXPECT_EQ(RunSubprocess({}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gradients::common
