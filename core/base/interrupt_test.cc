// The stop signals in a forked child (handlers are process-wide): a repeated SIGTERM keeps the clean stop
// (launchers repeat it), a second Ctrl-C exits at once, SIGUSR1 may come any number of times.
#include "core/base/interrupt.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace tutti {
namespace {

// Runs `body` in a child; returns its wait status.
template <typename Body>
int InChild(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(Interrupt, RepeatedSigtermKeepsTheCleanStop) {
  const int status = InChild([] {
    InstallInterruptHandler();
    if (InterruptRequested()) return 10;
    ::raise(SIGTERM);
    if (!InterruptRequested()) return 11;
    ::raise(SIGTERM);
    ::raise(SIGTERM);
    return 0;  // still alive: the work loop can finish its checkpoint
  });
  ASSERT_TRUE(WIFEXITED(status)) << "the child was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Interrupt, ASecondCtrlCExitsAtOnce) {
  const int status = InChild([] {
    InstallInterruptHandler();
    ::raise(SIGINT);
    if (!InterruptRequested()) return 11;
    ::raise(SIGINT);
    return 0;  // not reached
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
}

TEST(Interrupt, GracefulStopSignalsNeverExit) {
  const int status = InChild([] {
    InstallInterruptHandler();
    InstallGracefulStopSignal(SIGUSR1);
    for (int i = 0; i < 3; ++i) ::raise(SIGUSR1);
    return InterruptRequested() ? 0 : 12;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace tutti
