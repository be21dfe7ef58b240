import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Chunks of exposition handed to sockets per turn of the event loop, all scrapes together (1 MiB). */
const CHUNKS_PER_TURN = 16;

/**
 * Hands out {@link CHUNKS_PER_TURN} chunks per turn of the event loop to every exposition being
 * sent, so that sending never holds the event loop for long. The budget is the process's, since the
 * event loop is: module state on purpose (docs/design-notes.md, "Endpoint").
 */
const pacer = {
  used: 0,
  turn: undefined as Promise<void> | undefined,
  async take(): Promise<void> {
    while (this.used >= CHUNKS_PER_TURN) {
      this.turn ??= nextTurn().then(() => {
        this.used = 0;
        this.turn = undefined;
      });
      await this.turn;
    }
    this.used++;
  },
};

/**
 * The exposition's chunks as a stream that starts on the turn after the render and hands the socket
 * chunks within the shared per-turn budget (see {@link pacer}).
 */
export function exposition(chunks: readonly Buffer[]): Readable {
  async function* paced(): AsyncGenerator<Buffer> {
    await nextTurn();
    for (const chunk of chunks) {
      await pacer.take();
      yield chunk;
    }
  }
  return Readable.from(paced());
}
