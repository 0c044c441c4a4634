// Validation of `services[i].options` for the built-in applications: each
// factory checks its options once, at config load, and throws AppConfigError
// naming the key (the node turns it into `services[i].options.<key>`).
import { statSync } from 'node:fs';
import { AppConfigError, type AppOptions } from './api.js';

export function checkOptionKeys(options: AppOptions, allowed: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) throw new AppConfigError(k, `unknown option (allowed: ${allowed.length === 0 ? 'none' : allowed.join(', ')})`);
  }
}

/** A whole number in [min, max]; `dflt` when absent. */
export function intOption(options: AppOptions, key: string, dflt: number, min: number, max: number): number {
  const v = options[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new AppConfigError(key, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** An existing directory; undefined when absent and not required. */
export function directoryOption(options: AppOptions, key: string, required: boolean): string | undefined {
  const v = options[key];
  if (v === undefined) {
    if (required) throw new AppConfigError(key, 'missing (a directory)');
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw new AppConfigError(key, `expected a directory path, got ${JSON.stringify(v)}`);
  let isDir = false;
  try {
    isDir = statSync(v).isDirectory();
  } catch {
    throw new AppConfigError(key, `${v} does not exist`);
  }
  if (!isDir) throw new AppConfigError(key, `${v} is not a directory`);
  return v;
}
