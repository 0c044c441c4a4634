// Errors that cross an API boundary carry a stable `code`, so callers branch on
// codes and never on messages (the undici/fastify habit). All codes live in
// this one table. Inside the data plane a bad packet is never an exception:
// it is a reason code and a counter (see dataplane/net/reason.ts).

export const ErrorCodes = {
  BATON_ERR_CONFIG: 'invalid configuration',
  BATON_ERR_SHM_LAYOUT: 'shared-memory layout mismatch',
  BATON_ERR_DPDK_INIT: 'DPDK initialisation failed',
  BATON_ERR_NATIVE: 'native addon failure',
  BATON_ERR_PORT: 'packet port cannot be opened',
  BATON_ERR_LAB: 'lab set-up failed',
  BATON_ERR_PEER_AUTH: 'peer message failed authentication',
  BATON_ERR_USAGE: 'bad command-line usage',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

const kBatonError = Symbol.for('baton.error');

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly [kBatonError] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BatonError';
  }

  /** Works across copies of this module (worker threads, bundles). */
  static [Symbol.hasInstance](this: unknown, v: unknown): boolean {
    if (this !== BatonError) return Function.prototype[Symbol.hasInstance].call(this, v);
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[kBatonError] === true;
  }
}

export class ConfigError extends BatonError {
  /** Dotted key path of the offending setting, e.g. `services[0].port`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super('BATON_ERR_CONFIG', `config ${path}: ${message}`);
    this.path = path;
    this.name = 'ConfigError';
  }
}

export class UsageError extends BatonError {
  constructor(message: string) {
    super('BATON_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}
