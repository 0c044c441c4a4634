// Control → endpoint commands through shared memory. A worker spends its
// idle time parked in a futex and its busy time in a loop that never returns
// to its event loop, so it cannot receive postMessage: instead it reads these
// words once per burst, and the control thread wakes it after writing one.
//
//   Int32Array, MAILBOX_WORDS per endpoint:
//   [STOP]   1 = finish the loop and return          (written by control)
//   [CRASH]  1 = die now: fault injection for tests   (written by control)
//   [ALIVE]  incremented by the endpoint per loop pass (written by endpoint)
//   [REPORT] / [REPORT_DONE]  a connection report asked for / written
//   [8..15]  transfer commands: move connections to another node (dataplane/handoff/command.ts)
export const MAILBOX_WORDS = 16; // one 64-byte line per endpoint
export const MB_STOP = 0;
export const MB_CRASH = 1;
export const MB_ALIVE = 2;
/** Connection report (`baton status --connections`): control writes a request number to REPORT, the endpoint fills its report buffer and echoes the number to REPORT_DONE. */
export const MB_REPORT = 3;
export const MB_REPORT_DONE = 4;

export function createMailboxes(endpoints: number): SharedArrayBuffer {
  return new SharedArrayBuffer(endpoints * MAILBOX_WORDS * 4);
}
