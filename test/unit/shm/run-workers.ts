// Runs ring-worker.js jobs in real worker threads and collects their results.
// Teardown is structural: every worker is terminated in `finally`, whether the
// jobs finished, one threw, or the time limit passed.
import { Worker } from 'node:worker_threads';

export async function runWorkers<R>(jobs: readonly object[], timeLimitMs: number): Promise<R[]> {
  const workers: Worker[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const done = jobs.map((job) => {
      const w = new Worker(new URL('./ring-worker.js', import.meta.url), { workerData: job });
      workers.push(w);
      return new Promise<R>((resolve, reject) => {
        w.once('message', (m: R) => resolve(m));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker ${(job as { role?: string }).role} exited (${code}) without a result`)));
      });
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`workers did not finish within ${timeLimitMs} ms`)), timeLimitMs);
    });
    return await Promise.race([Promise.all(done), timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
