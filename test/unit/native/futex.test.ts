// Real futexes across threads: a worker parked through the addon is woken by
// another thread's futexWake, and a timed wait times out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { native } from '../../../native/addon.js';

test('futexWait returns not-equal at once when the word differs', () => {
  const w = new Int32Array(new SharedArrayBuffer(8));
  w[1] = 5;
  assert.is(native.futexWait(w, 1, 4, 1000), 'not-equal');
});

test('futexWait times out when nobody wakes it', () => {
  const w = new Int32Array(new SharedArrayBuffer(8));
  assert.is(native.futexWait(w, 0, 0, 20), 'timed-out');
});

test('a worker parked on a futex is woken by futexWake from another thread', async () => {
  const w = new Int32Array(new SharedArrayBuffer(16));
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    const native = require(workerData.addon);
    const w = workerData.words;
    Atomics.store(w, 1, 1); // parked (about to)
    const r = native.futexWait(w, 0, 0, 10000);
    parentPort.postMessage({ r, v: Atomics.load(w, 0) });
  `;
  const addon = new URL('../../../../native/build/Release/baton_native.node', import.meta.url).pathname;
  const worker = new Worker(src, { eval: true, workerData: { words: w, addon } });
  const result = new Promise<{ r: string; v: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  while (Atomics.load(w, 1) !== 1) await new Promise((r) => setTimeout(r, 1));
  // The worker may not have entered the syscall yet: keep waking until it answers.
  let woken = 0;
  const deadline = Date.now() + 5000;
  Atomics.store(w, 0, 1);
  let done = false;
  void result.then(() => { done = true; });
  while (!done && Date.now() < deadline) {
    woken += native.futexWake(w, 0, 1);
    await new Promise((r) => setTimeout(r, 2));
  }
  const { r, v } = await result;
  assert.ok(r === 'ok' || r === 'not-equal', `worker returned ${r}`);
  assert.is(v, 1);
  assert.ok(woken <= 1);
  await worker.terminate();
});

test('bad arguments throw a coded error instead of crashing', () => {
  const w = new Int32Array(new SharedArrayBuffer(8));
  assert.throws(() => native.futexWait(w, 2, 0, 0), (e: unknown) => (e as { code?: string }).code === 'BATON_ERR_NATIVE');
  assert.throws(() => native.futexWake(new Float64Array(2) as unknown as Int32Array, 0, 1), (e: unknown) => (e as { code?: string }).code === 'BATON_ERR_NATIVE');
});

test.run();
