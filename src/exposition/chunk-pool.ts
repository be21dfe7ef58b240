/**
 * The 64 KiB chunks both renders (text and protobuf) write the exposition into, and their reuse
 * between scrapes (why: docs/design-notes.md, "Rendering").
 */

/** Size of one chunk of the exposition: small enough to come from malloc's reused arena, not fresh pages. */
export const CHUNK_BYTES = 1 << 16;

/** The most chunks kept for reuse between scrapes (16 MiB). */
const MAX_SPARE_CHUNKS = 256;

/**
 * Chunks whose send finished, reused by the next renders (module state: the process's memory), so
 * that a scrape allocates no fresh external memory. Bound: the chunks of the last render, at most
 * {@link MAX_SPARE_CHUNKS}.
 */
const spare = {
  chunks: [] as ArrayBuffer[],
  limit: 0,
  /** Bodies already given back: a body is recycled once, or its chunks would be handed out twice. */
  recycled: new WeakSet<readonly Buffer[]>(),
};

/**
 * Gives the chunks of an exposition back for reuse once nothing reads them any more: call it when
 * the response they were sent on has finished (every write done), never while a socket may still
 * hold them. A second call with the same list does nothing; chunks not made by the render are left.
 * A chunk's memory is given back through the part of the list that starts it (offset 0): once.
 */
export function recycleChunks(chunks: readonly Buffer[]): void {
  if (spare.recycled.has(chunks)) return;
  spare.recycled.add(chunks);
  for (const chunk of chunks) {
    if (spare.chunks.length >= spare.limit) return;
    const memory = chunk.buffer;
    if (chunk.byteOffset === 0 && memory instanceof ArrayBuffer && memory.byteLength === CHUNK_BYTES)
      spare.chunks.push(memory);
  }
}

/** A chunk for a render: a spare one when there is one, else a fresh one. */
export function newChunk(): Buffer {
  const memory = spare.chunks.pop();
  return memory ? Buffer.from(memory) : Buffer.allocUnsafe(CHUNK_BYTES);
}

/** Gives back a chunk a render took and did not use (nothing was written into it). */
export function unusedChunk(chunk: Buffer): void {
  if (chunk.length === CHUNK_BYTES && chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_BYTES)
    spare.chunks.push(chunk.buffer as ArrayBuffer);
}

/** Called at the end of a render of `parts` chunks: the spares kept are at most as many. */
export function renderedChunks(parts: number): void {
  spare.limit = Math.min(MAX_SPARE_CHUNKS, parts);
  if (spare.chunks.length > spare.limit) spare.chunks.length = spare.limit;
}
