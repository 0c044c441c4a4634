// Raised by shm/ when a layout is asked for, or found, in a shape it cannot
// honour: bad plan options, an arena from a different build, a ring header
// that is not a ring. Callers branch on `code` (BATON_ERR_SHM_LAYOUT, the same
// code the addon throws when baton_arena_check refuses an arena), never on
// the message. Programming errors on a ring (committing more than was
// reserved) are RangeErrors instead: they are bugs, not layouts.
import { BatonError } from '../control/errors.js';

export class ShmLayoutError extends BatonError {
  declare readonly code: 'BATON_ERR_SHM_LAYOUT';

  constructor(message: string) {
    super('BATON_ERR_SHM_LAYOUT', message);
    this.name = 'ShmLayoutError';
  }
}
