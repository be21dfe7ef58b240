/*
 * An instance's side of pm2's cluster mode: a local socket where the app's other instances (and
 * itself) ask for its metrics. Each answer is written to the instance's state file before its end
 * is sent, so that whatever a scrape served of this instance is on disk when the instance dies.
 */
import { promises as fs } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { streamAnswer } from '../cluster/cluster-worker';
import { COLLECT_RESPONSE, type CollectPart, type CollectResponse } from '../cluster/cluster-protocol';
import { errorText } from '../veza-metrics.messages';
import { prepareDirectory, socketPath, statePath } from './pm2-directory';
import { FrameSplitter, frameLine, isPm2Request } from './pm2-frames';

/** Connections answered at once; more are closed at once (the asker counts an error). */
const MAX_CONNECTIONS = 64;
/** A connection that has not sent its request within this is closed. */
const REQUEST_TIMEOUT_MS = 5_000;
/** The longest an answer is sent for, whatever wait the asker says it has. */
/** How often an instance checks that its socket is still there (a tmp cleaner, an operator's `rm`). */
const WATCH_MS = 10_000;

/** Writes a line to the socket, resolved once written (the socket's back-pressure). */
function writeLine(socket: Socket, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed || !socket.writable) {
      reject(new Error('the asker is gone'));
      return;
    }
    socket.write(line, (error) => (error ? reject(error) : resolve()));
  });
}

/** This instance's socket, and the answers it sends. */
export class Pm2Peer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Answers are built one at a time: the state file has one writer. */
  private answering: Promise<unknown> = Promise.resolve();
  private closed = false;
  private watch: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly stem: string,
  ) {}

  /** Listens on `<dir>/<stem>.sock`. */
  async listen(): Promise<void> {
    const file = socketPath(this.dir, this.stem);
    // A socket left by a process that had this pid before: nobody listens on it.
    await fs.rm(file, { force: true });
    const server = createServer({ allowHalfOpen: false }, (socket) => this.onConnection(socket));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Errors after listening (none are expected) must not crash the application.
    server.on('error', () => undefined);
    this.server = server;
    this.watch ??= setInterval(() => void this.listenAgainIfGone().catch(() => undefined), WATCH_MS).unref();
  }

  /**
   * Listens again when the socket's file is gone (its directory removed): the directory made again,
   * the old server closed (it unlinks its path at once) before the new one takes it. `true` when done.
   */
  async listenAgainIfGone(): Promise<boolean> {
    if (this.closed || !this.server) return false;
    const there = await fs.lstat(socketPath(this.dir, this.stem)).then(
      () => true,
      () => false,
    );
    if (there || this.closed || !this.server) return false;
    await prepareDirectory(this.dir);
    this.server.close();
    this.server = undefined;
    await this.listen();
    return true;
  }

  /** Writes the state (what the instance counted until now) without answering anyone. */
  async writeState(): Promise<void> {
    if (this.closed || !this.server) return;
    await this.enqueue(() => this.writeAnswer(0, undefined, undefined));
  }

  /**
   * Writes the final state (what the instance counted until now), then stops answering and removes
   * the socket: from then on the instance is exited to the others, and its state is folded into the
   * retired base. Nothing is written after the socket is gone.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    if (this.server) {
      await this.enqueue(() => this.writeAnswer(0, undefined, undefined)).catch(() => undefined);
      const server = this.server;
      this.server = undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of this.sockets) socket.destroy();
      });
    }
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    const splitter = new FrameSplitter();
    const onData = (chunk: Buffer): void => {
      let frames: unknown[];
      try {
        frames = splitter.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      if (frames.length === 0) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      const request = frames[0];
      if (!isPm2Request(request) || this.closed) {
        socket.destroy();
        return;
      }
      const received = performance.now();
      const waitMs = request.timeoutMs > 0 ? request.timeoutMs : undefined;
      // An asker that stops reading must not hold the answers after it: past its wait (and a
      // second), its connection is destroyed, which fails the write that waits for it.
      const limit = setTimeout(() => socket.destroy(), (waitMs ?? REQUEST_TIMEOUT_MS) + 1_000);
      void this.enqueue(async () => {
        // The asker gave up already (the answers before this one took its whole wait): not answered.
        const left = waitMs === undefined ? undefined : waitMs - (performance.now() - received);
        if ((left !== undefined && left <= 0) || socket.destroyed) return;
        await this.writeAnswer(request.id, left, socket);
      }).finally(() => {
        clearTimeout(limit);
        socket.end();
      });
    };
    socket.on('data', onData);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.answering.then(work);
    this.answering = run.catch(() => undefined);
    return run.catch(() => undefined);
  }

  /**
   * Streams one answer to `socket` (none: the state file only) and to the state file, renamed over
   * the last one before the answer's end is sent.
   */
  private async writeAnswer(
    id: number,
    waitMs: number | undefined,
    socket: Socket | undefined,
  ): Promise<void> {
    const file = statePath(this.dir, this.stem);
    const temporary = `${file}.tmp`;
    // Made anew (O_EXCL: a link left there is removed, never followed), whatever a crash left.
    await fs.rm(temporary, { force: true });
    const handle = await fs.open(temporary, 'wx', 0o600);
    let renamed = false;
    try {
      const send = async (part: CollectPart): Promise<void> => {
        const line = frameLine(part);
        await handle.write(line);
        if (socket) await writeLine(socket, line);
      };
      let end: CollectResponse;
      try {
        const { parts, registries, omitted } = await streamAnswer(id, waitMs, send);
        end = {
          type: COLLECT_RESPONSE,
          id,
          parts,
          registries,
          ...(omitted.some((o) => o.length > 0) ? { omitted } : {}),
        };
      } catch (error) {
        if (socket && !socket.destroyed)
          await writeLine(socket, frameLine({ type: COLLECT_RESPONSE, id, error: errorText(error) })).catch(
            () => undefined,
          );
        return;
      }
      await handle.write(frameLine(end));
      await handle.close();
      await fs.rename(temporary, file);
      renamed = true;
      if (socket) await writeLine(socket, frameLine(end));
    } finally {
      if (!renamed) {
        await handle.close().catch(() => undefined);
        await fs.rm(temporary, { force: true });
      }
    }
  }
}
