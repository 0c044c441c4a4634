// The parse position shared by applications that pause inside a data handler.
//
// AppSocket redelivers a chunk when the socket was paused inside its handler
// (api.ts). An application that acted on part of the chunk before pausing
// records how many bytes at the head of the unconsumed receive data it has
// already processed; the receive data is what moves with the connection, so
// the count stays right on the new holder too.
//
//   state[0..4)  u32 little-endian: bytes to skip at the head of the next data
export const SKIP_OFFSET = 0;
export const SKIP_BYTES = 4;

function view(state: Uint8Array): DataView {
  return new DataView(state.buffer, state.byteOffset, state.byteLength);
}

/**
 * Call first in every data handler: returns where the new bytes start in this
 * chunk, and lowers the stored skip as if the chunk will be consumed. If the
 * handler then pauses, it must call setSkip() with what is processed.
 */
export function consumeSkip(state: Uint8Array, chunkLength: number): number {
  const v = view(state);
  const skip = v.getUint32(SKIP_OFFSET, true);
  if (skip === 0) return 0;
  const from = skip < chunkLength ? skip : chunkLength;
  v.setUint32(SKIP_OFFSET, skip - from, true);
  return from;
}

/** Before pause() inside a data handler: the first `processed` bytes of the chunk are done. */
export function setSkip(state: Uint8Array, processed: number): void {
  view(state).setUint32(SKIP_OFFSET, processed, true);
}
