// Real futexes on 32-bit words inside a SharedArrayBuffer. V8 implements
// Atomics.wait/notify with its own wait lists, so a native thread can neither
// wake a JS waiter nor be woken by Atomics.notify; every side that parks or
// wakes across the native/JS boundary uses these instead.
#pragma once
#include <cstdint>

namespace baton {
// Sleeps while *word == expected, at most timeout_ns (< 0: forever).
// Returns 0 when woken, 1 on timeout, 2 when *word != expected on entry.
int futex_wait(volatile uint32_t *word, uint32_t expected, int64_t timeout_ns);
// Wakes up to `count` waiters on word; returns how many were woken.
int futex_wake(volatile uint32_t *word, int count);
}  // namespace baton
