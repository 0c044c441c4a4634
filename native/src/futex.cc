#include "futex.h"

#include <cerrno>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace baton {

// Not FUTEX_PRIVATE_FLAG-free on purpose: every waiter and waker is a thread
// of this one process (pollers, workers, control), so the private (faster,
// mm-local) futex is correct.
int futex_wait(volatile uint32_t *word, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts;
  struct timespec *tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000LL;
    ts.tv_nsec = timeout_ns % 1000000000LL;
    tsp = &ts;
  }
  long r = syscall(SYS_futex, const_cast<uint32_t *>(word), FUTEX_WAIT_PRIVATE, expected, tsp, nullptr, 0);
  if (r == 0) return 0;
  if (errno == ETIMEDOUT) return 1;
  if (errno == EAGAIN) return 2;
  return 0;  // EINTR: a spurious wake; callers re-check their condition anyway.
}

int futex_wake(volatile uint32_t *word, int count) {
  long r = syscall(SYS_futex, const_cast<uint32_t *>(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
  return r < 0 ? 0 : static_cast<int>(r);
}

}  // namespace baton
