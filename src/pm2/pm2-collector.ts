/*
 * The asking side of pm2's cluster mode: the instance a scrape lands on asks every instance of the
 * app (itself included) over their sockets, uses the state file of one that does not answer in
 * time, and folds those that exited into the retired base, so that the sum it serves never goes
 * back. Every instance may be the one scraped: what must outlive an instance is on disk.
 */
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs, type Stats } from 'node:fs';
import { connect } from 'node:net';
import type { Answer } from '../cluster/answer-assembly';
import { retirable } from '../cluster/answer-assembly';
import { CHARS_PER_SAMPLE } from '../cluster/answer-assembly';
import type { ResolvedClusterMetricsOptions } from '../cluster/cluster-options';
import {
  COLLECT_PART,
  COLLECT_RESPONSE,
  type MetricJson,
  type PartMetric,
} from '../cluster/cluster-protocol';
import { MAX_PART_SAMPLES } from '../cluster/cluster-protocol';
import { MAX_RETIRED_SAMPLES, RetiredSeries } from '../cluster/retired-series';
import { nextTurn } from '../exposition/render-exposition';
import { errorText } from '../veza-metrics.messages';
import {
  pm2DiskFailed,
  pm2LockTimedOut,
  pm2PeerFailed,
  pm2PeerTimedOut,
  pm2RetiredFailed,
  pm2TooManyPeers,
} from '../veza-metrics.messages';
import {
  listPeers,
  readAnswerFile,
  RETIRED_FILE,
  socketPath,
  statePath,
  withLock,
  writeAtomically,
  type PeerName,
} from './pm2-directory';
import { AnswerReader, FrameSplitter, frameLine, PM2_PROTOCOL, PM2_REQUEST } from './pm2-frames';
import * as path from 'node:path';

/** The most instances asked by one scrape (pm2 -i max on the largest machines); more are left out and logged. */
export const MAX_PM2_PEERS = 512;
/** Reading an answer yields to the event loop after this many milliseconds of work (as the render does). */
const READ_SLICE_MS = 5;
/** Chunks received and not yet read past which the socket is paused (64 KiB each at most). */
const QUEUED_CHUNKS = 16;
/** The names of folded instances `retired.state` remembers: those folded while a scrape was asking them. */
const MAX_FOLDED_NAMES = 1_024;
/** What `retired.state` may hold when read: its samples at the cap, and each part's header. */
const RETIRED_READ_SAMPLES = MAX_RETIRED_SAMPLES * 2;
/** `retired.state`'s header line. */
const RETIRED_HEADER = 'veza-metrics:pm2-retired';

/** What a scrape learned of one instance. */
type Outcome =
  | { readonly answer: Answer }
  | { readonly dead: true }
  | { readonly failed: 'timeout' | 'error'; readonly error?: string };

/** What {@link Pm2Collector} reports, for the self-metrics. */
export interface Pm2CollectorEvents {
  timedOut(): void;
  failed(): void;
}

/** What one round of asking gives. */
export interface Pm2Collected {
  /** The metrics to merge: each instance's newest answer (or its last one), then the retired base. */
  readonly parts: MetricJson[][];
  /** By instance label: whether every instance with that label answered this scrape. */
  readonly answered: ReadonlyMap<string, boolean>;
  /** How many live instances were asked (those found exited are not counted). */
  readonly asked: number;
  /** Samples of exited instances kept in the sum. */
  readonly retiredSamples: number;
}

interface RetiredBase {
  /** The file's identity when read: re-read only when it changed. */
  readonly key: string;
  readonly series: RetiredSeries;
  readonly folded: readonly string[];
  readonly foldedSet: ReadonlySet<string>;
}

const keyOf = (stat: Stats, generation: string): string =>
  `${stat.ino}:${stat.size}:${stat.mtimeMs}:${generation}`;

/**
 * The random id in `retired.state`'s header (its first bytes): two versions of the file may have
 * the same inode (reused at once by ext4), size and mtime (one clock tick, 1-10 ms, for two folds).
 */
async function generationOf(file: string): Promise<string> {
  const handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const buffer = Buffer.alloc(96);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return /"g":"([0-9a-f]{16})"/.exec(buffer.toString('latin1', 0, bytesRead))?.[1] ?? '';
  } finally {
    await handle.close();
  }
}
let lastRequestId = 0;

/** Asks one instance for its answer over its socket, within `waitMs`. */
function ask(file: string, waitMs: number, maxWorkerSamples: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const socket = connect(file);
    const finish = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ failed: 'timeout' }), waitMs);
    const splitter = new FrameSplitter();
    const reader = new AnswerReader(maxWorkerSamples);
    socket.on('connect', () => {
      connected = true;
      socket.write(frameLine({ type: PM2_REQUEST, v: PM2_PROTOCOL, id: ++lastRequestId, timeoutMs: waitMs }));
    });
    // A local socket delivers many chunks in one event-loop turn (libuv reads while data is there):
    // they are queued and read a slice at a time, the socket paused while the queue is long.
    const chunks: Buffer[] = [];
    let reading = false;
    const read = async (): Promise<void> => {
      reading = true;
      let sliceStart = performance.now();
      try {
        while (chunks.length > 0 && !settled) {
          for (const frame of splitter.push(chunks.shift() as Buffer)) {
            const answer = reader.frame(frame);
            if (answer) return finish({ answer });
            if (performance.now() - sliceStart >= READ_SLICE_MS) {
              await nextTurn();
              sliceStart = performance.now();
            }
          }
          if (chunks.length <= QUEUED_CHUNKS / 2 && socket.isPaused()) socket.resume();
        }
      } catch (error) {
        finish({ failed: 'error', error: errorText(error) });
      } finally {
        reading = false;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length >= QUEUED_CHUNKS) socket.pause();
      if (!reading) void read();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // Nobody listens on the socket (the process is gone), or it was removed: the instance exited.
      if (!connected && (error.code === 'ECONNREFUSED' || error.code === 'ENOENT')) finish({ dead: true });
      else finish({ failed: 'error', error: errorText(error) });
    });
    socket.on('close', () => finish({ failed: 'error', error: 'the connection closed before the answer' }));
  });
}

/** How long one event-loop turn of folding or reading the retired base works before it yields. */
const SLICE_MS = 5;

/** `series.add(metrics)`, a part's worth of samples at a time, yielding to the event loop every `SLICE_MS`. */
async function addSliced(series: RetiredSeries, metrics: readonly MetricJson[]): Promise<void> {
  let sliceStart = performance.now();
  for (const metric of metrics)
    for (let at = 0; at < metric.values.length; at += MAX_PART_SAMPLES) {
      series.add([{ ...metric, values: metric.values.slice(at, at + MAX_PART_SAMPLES) }]);
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
}

/** Whether a process listens on the socket `file` (one that does not answer at once is taken as alive). */
function listening(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(file);
    const done = (alive: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), 1_000);
    socket.on('connect', () => done(true));
    // Refused or removed: nobody listens. Anything else (a full backlog: EAGAIN) is a live process.
    socket.on('error', (error: NodeJS.ErrnoException) =>
      done(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'),
    );
  });
}

/** The retired base as frames: a header, then its samples in parts of at most `MAX_PART_SAMPLES`. */
function* retiredLines(
  generation: string,
  metrics: readonly MetricJson[],
  folded: readonly string[],
  samples: number,
): Generator<string> {
  yield frameLine({ type: RETIRED_HEADER, g: generation, v: PM2_PROTOCOL, folded, samples });
  let parts = 0;
  for (const metric of metrics) {
    for (let at = 0; at === 0 || at < metric.values.length; at += MAX_PART_SAMPLES) {
      const part: PartMetric = {
        registry: 0,
        name: metric.name,
        help: metric.help,
        type: metric.type,
        aggregator: 'sum',
        values: metric.values.slice(at, at + MAX_PART_SAMPLES),
      };
      parts++;
      yield frameLine({ type: COLLECT_PART, id: 0, metrics: [part] });
    }
  }
  yield frameLine({ type: COLLECT_RESPONSE, id: 0, parts, registries: 1 });
}

/**
 * Asks a pm2 app's instances for their metrics (see the file's header). Memory: the answers of one
 * scrape (each at most `maxWorkerSamples` samples), and the retired base (at most
 * `MAX_RETIRED_SAMPLES` samples), re-read only when another instance changed it.
 */
export class Pm2Collector {
  private readonly logger = new Logger('VezaMetrics');
  /** Warnings already logged: a few keys at most. */
  private readonly warned = new Set<string>();
  private retired: RetiredBase | undefined;
  /** The bytes a state file may hold: the answer's bound, JSON's overhead included. */
  private readonly maxStateBytes: number;

  constructor(
    private readonly dir: string,
    private readonly options: ResolvedClusterMetricsOptions,
    private readonly events: Pm2CollectorEvents,
    /** Makes this instance's socket (and the directory) again when they are gone; `true` when it did. */
    private readonly listenAgain: () => Promise<boolean> = () => Promise.resolve(false),
  ) {
    this.maxStateBytes = options.maxWorkerSamples * CHARS_PER_SAMPLE * 2;
  }

  /**
   * Asks every instance and gives what is to be merged, waiting for each at most `timeoutMs` and
   * never past `deadline` (`performance.now()` milliseconds).
   */
  async collect(deadline: number): Promise<Pm2Collected> {
    const waitMs = Math.max(1, Math.min(this.options.timeoutMs, Math.floor(deadline - performance.now())));
    const { peers, more } = await this.list();
    if (more) this.warnOnce('peers', pm2TooManyPeers(this.dir, MAX_PM2_PEERS));
    const listed = [...peers.values()];
    const asked = listed.filter((p) => p.socket);
    const outcomes = new Map<string, Outcome>();
    await Promise.all(
      asked.map(async (peer) =>
        outcomes.set(
          peer.stem,
          await ask(socketPath(this.dir, peer.stem), waitMs, this.options.maxWorkerSamples),
        ),
      ),
    );
    const answers = new Map<string, Answer>();
    const dead: PeerName[] = [];
    const answered = new Map<string, boolean>();
    for (const peer of listed) {
      const outcome = outcomes.get(peer.stem);
      if (!outcome || 'dead' in outcome) {
        dead.push(peer);
        continue;
      }
      if ('answer' in outcome) {
        answers.set(peer.stem, outcome.answer);
        if (!answered.has(peer.instance)) answered.set(peer.instance, true);
        continue;
      }
      answered.set(peer.instance, false);
      this.noteFailure(peer, outcome, waitMs);
      // Alive but silent: its last answer, as the scrapes before this one served it.
      const last = await this.readState(peer).catch(() => undefined);
      if (last) answers.set(peer.stem, last);
    }
    // Exited instances folded, and the retired base read, under the lock: an instance is then either
    // in the base (its answer of this scrape dropped) or not, never both nor neither.
    const lockDeadline = Math.max(deadline, performance.now() + 50);
    let retired: RetiredBase | undefined;
    try {
      const locked = await withLock(this.dir, lockDeadline, async () => {
        await this.restoreRetired();
        await this.fold(dead);
        return this.loadRetired();
      });
      if (locked) retired = locked.done;
      else {
        this.events.failed();
        this.warnOnce('lock', pm2LockTimedOut(this.dir));
        retired = await this.loadRetired();
      }
    } catch (error) {
      // The disk refused (full, removed, read-only): served with the base as last read, folded later.
      this.events.failed();
      this.warnOnce('disk', pm2DiskFailed(this.dir, errorText(error)));
      retired = this.retired;
    }
    // Exited instances not folded (the lock held past the wait, the disk refusing): their last answer
    // stays in the sum until a later scrape folds them, or it would go back, then up again.
    for (const peer of dead) {
      if (retired?.foldedSet.has(peer.stem)) continue;
      const last = await this.readState(peer).catch(() => undefined);
      if (last) answers.set(peer.stem, last);
    }
    const parts: MetricJson[][] = [];
    for (const [stem, answer] of answers) if (!retired?.foldedSet.has(stem)) parts.push(...answer.metrics);
    const base = retired?.series.toJson() ?? [];
    if (base.length > 0) parts.push(base);
    return { parts, answered, asked: listed.length - dead.length, retiredSamples: retired?.series.size ?? 0 };
  }

  /**
   * The instances in the directory; when the directory is gone (a tmp cleaner, an operator's `rm`),
   * counted, this instance's socket made again (the others make theirs within `WATCH_MS`), and listed
   * again. Throws when it cannot be made again: the scrape fails rather than serve a sum without them.
   */
  private async list(): ReturnType<typeof listPeers> {
    try {
      return await listPeers(this.dir, MAX_PM2_PEERS);
    } catch (error) {
      this.events.failed();
      this.warnOnce('disk', pm2DiskFailed(this.dir, errorText(error)));
      if (!(await this.listenAgain())) throw error;
      return listPeers(this.dir, MAX_PM2_PEERS);
    }
  }

  /** Folds exited instances found while no scrape runs (an instance's start): bounded files on disk. */
  async foldExited(deadline: number): Promise<void> {
    const { peers } = await listPeers(this.dir, MAX_PM2_PEERS);
    const candidates = [...peers.values()];
    const dead: PeerName[] = [];
    await Promise.all(
      candidates.map(async (peer) => {
        // Whether anyone listens is all that is asked: an answer would make the instance serialise
        // its registry and write its state file, for nothing.
        if (!peer.socket || !(await listening(socketPath(this.dir, peer.stem)))) dead.push(peer);
      }),
    );
    if (dead.length > 0) await withLock(this.dir, deadline, () => this.fold(dead));
  }

  private readState(peer: PeerName): Promise<Answer | undefined> {
    return readAnswerFile(statePath(this.dir, peer.stem), this.options.maxWorkerSamples, this.maxStateBytes);
  }

  /** Under the lock: the exited instances' counters and histograms added to `retired.state`, their files removed. */
  private async fold(dead: readonly PeerName[]): Promise<void> {
    if (dead.length === 0) return;
    const base = await this.loadRetired();
    // A copy: a scrape still reading the base as it was (a `RetiredBase` is never changed) goes on seeing it.
    const series = new RetiredSeries(MAX_RETIRED_SAMPLES);
    await addSliced(series, base.series.toJson());
    const folded = [...base.folded];
    const gone: PeerName[] = [];
    for (const peer of dead) {
      // Listening again by now (a new process with its pid and instance, found exited before this
      // scrape had the lock): alive, its files its own.
      if (await listening(socketPath(this.dir, peer.stem))) continue;
      // Folded already (by another instance's scrape, then its files' removal was cut short): only removed.
      if (base.foldedSet.has(peer.stem)) {
        gone.push(peer);
        continue;
      }
      let answer: Answer | undefined;
      try {
        answer = await this.readState(peer);
      } catch (error) {
        this.events.failed();
        this.warnOnce('retired', pm2RetiredFailed(peer.stem, errorText(error)));
      }
      if (answer) await addSliced(series, retirable(answer.metrics, this.options.aggregators));
      folded.push(peer.stem);
      gone.push(peer);
    }
    const kept = folded.slice(-MAX_FOLDED_NAMES);
    await this.writeRetired(series, kept);
    for (const peer of gone)
      for (const file of [
        statePath(this.dir, peer.stem),
        `${statePath(this.dir, peer.stem)}.tmp`,
        socketPath(this.dir, peer.stem),
      ])
        await fs.rm(file, { force: true });
  }

  /** Writes `retired.state`, and keeps what it holds as the base last read. */
  private async writeRetired(series: RetiredSeries, folded: string[]): Promise<void> {
    const file = path.join(this.dir, RETIRED_FILE);
    const generation = randomBytes(8).toString('hex');
    await writeAtomically(file, retiredLines(generation, series.toJson(), folded, series.size));
    const stat = await fs.stat(file);
    this.retired = { key: keyOf(stat, generation), series, folded, foldedSet: new Set(folded) };
  }

  /**
   * Under the lock: `retired.state` written again from the base last read when it is gone (its
   * directory removed), so that the exited instances' counts stay in the sum (those folded by
   * others since it was read are lost with the file).
   */
  private async restoreRetired(): Promise<void> {
    const base = this.retired;
    if (!base || base.key === '') return;
    const file = path.join(this.dir, RETIRED_FILE);
    if (
      await fs.lstat(file).then(
        () => false,
        () => true,
      )
    )
      await this.writeRetired(base.series, [...base.folded]);
  }

  /** The retired base as `retired.state` holds it (read again only when the file changed). */
  private async loadRetired(): Promise<RetiredBase> {
    const file = path.join(this.dir, RETIRED_FILE);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat) {
      const empty = {
        key: '',
        series: new RetiredSeries(MAX_RETIRED_SAMPLES),
        folded: [],
        foldedSet: new Set<string>(),
      };
      // A base read before is kept, to be written again (`restoreRetired`) by the next scrape that has the lock.
      if (!this.retired || this.retired.key === '') this.retired = empty;
      return empty;
    }
    const key = keyOf(stat, await generationOf(file));
    if (this.retired?.key === key) return this.retired;
    let folded: string[] = [];
    const answer = await readAnswerFile(
      file,
      // The base's samples, and a header per part of it (its parts hold 2,048 values at most).
      RETIRED_READ_SAMPLES,
      RETIRED_READ_SAMPLES * CHARS_PER_SAMPLE * 2,
      (header) => {
        const h = header as { type?: unknown; folded?: unknown } | null;
        if (h?.type !== RETIRED_HEADER || !Array.isArray(h.folded))
          throw new Error('retired.state has no header');
        folded = h.folded.filter((s): s is string => typeof s === 'string').slice(-MAX_FOLDED_NAMES);
      },
    );
    const series = new RetiredSeries(MAX_RETIRED_SAMPLES);
    if (answer) await addSliced(series, answer.metrics.flat());
    this.retired = { key, series, folded, foldedSet: new Set(folded) };
    return this.retired;
  }

  private noteFailure(
    peer: PeerName,
    outcome: { failed: 'timeout' | 'error'; error?: string },
    waitMs: number,
  ): void {
    if (outcome.failed === 'timeout') {
      this.events.timedOut();
      this.warnOnce('timeout', pm2PeerTimedOut(peer.instance, peer.pid, waitMs));
    } else {
      this.events.failed();
      this.warnOnce('error', pm2PeerFailed(peer.instance, peer.pid, outcome.error ?? 'unknown'));
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message);
  }
}
