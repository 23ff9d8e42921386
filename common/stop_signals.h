// SIGINT and SIGTERM as a daemon's main takes them: blocked when constructed, before any thread
// starts, so that every thread inherits the mask and none is interrupted; then taken by Wait()
// (sigwait) on the main thread, which stops the daemon in order instead of in a handler.
#pragma once

#include <signal.h>

namespace gradients::common {

class StopSignals {
 public:
  StopSignals();
  // Blocks until one arrives; its name ("SIGINT" or "SIGTERM").
  const char* Wait();

 private:
  sigset_t signals_;
};

}  // namespace gradients::common
