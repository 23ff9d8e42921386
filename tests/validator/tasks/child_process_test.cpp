#include "validator/tasks/child_process.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

common::Result<ChildResult> Shell(const std::string& script, ChildLimits limits = {}) {
  return RunLimitedChild({"/bin/sh", "-c", script}, limits);
}

TEST(ChildProcess, CapturesTheExitCodeStdoutAndTheEndOfStderr) {
  common::Result<ChildResult> result = Shell("echo verdict; echo first >&2; echo last >&2; exit 3");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->signal, 0);
  EXPECT_EQ(result->out, "verdict\n");
  EXPECT_EQ(result->err_tail, "first\nlast\n");

  common::Result<ChildResult> chatty = Shell("head -c 100000 /dev/zero; head -c 5000 /dev/zero >&2; echo end >&2",
                                     {.max_stdout_bytes = 1000, .max_stderr_bytes = 4});
  ASSERT_TRUE(chatty.ok());
  EXPECT_EQ(chatty->out.size(), 1000u);
  EXPECT_TRUE(chatty->stdout_truncated);
  EXPECT_EQ(chatty->err_tail, "end\n");
}

TEST(ChildProcess, AChildPastItsTimeoutIsKilledWithWhatItStarted) {
  const auto started = std::chrono::steady_clock::now();
  common::Result<ChildResult> result = Shell("sleep 30 & sleep 30", {.timeout_ms = 300});
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));

  // One that closes its output and goes on running is not waited for past the timeout either.
  common::Result<ChildResult> quiet = Shell("exec >/dev/null 2>&1; sleep 30", {.timeout_ms = 300});
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(ChildProcess, MemoryAndCpuLimitsEndAGreedyChild) {
  // 64 MiB of address space: a shell asking for 200 MB more fails (bash would grow; head alone is bounded).
  common::Result<ChildResult> memory =
      RunLimitedChild({"/usr/bin/python3", "-c", "b = bytearray(200 * 1024 * 1024)"}, {.memory_bytes = 64 << 20});
  ASSERT_TRUE(memory.ok());
  EXPECT_NE(memory->exit_code, 0);
  EXPECT_NE(memory->err_tail.find("MemoryError"), std::string::npos) << memory->err_tail;

  common::Result<ChildResult> cpu = Shell("while :; do :; done", {.cpu_seconds = 1, .timeout_ms = 20'000});
  ASSERT_TRUE(cpu.ok());
  EXPECT_FALSE(cpu->timed_out);
  EXPECT_EQ(cpu->signal, SIGXCPU);
}

TEST(ChildProcess, AProgramThatCannotBeStartedExitsWith127) {
  common::Result<ChildResult> result = RunLimitedChild({"/nonexistent/gradients"}, {});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 127);
}

}  // namespace
}  // namespace gradients::validator
