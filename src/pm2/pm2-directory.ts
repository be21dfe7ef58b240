/*
 * The directory where a pm2 app's instances meet (option `pm2.directory`): per instance a local
 * socket `w<instance>-<pid>-<nonce>.sock` and a state file `w<instance>-<pid>-<nonce>.state` (its last answer), and
 * for the app `retired.state` (the counters and histograms of exited instances) with its lock.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { nextTurn } from '../exposition/render-exposition';
import { pm2DirectoryUnsafe } from '../veza-metrics.messages';
import { AnswerReader, FrameSplitter } from './pm2-frames';
import type { Answer } from '../cluster/answer-assembly';

/** An instance's files: its socket and its state, by instance label and pid. */
export interface PeerName {
  /** `w<instance>-<pid>-<nonce>`: the stem of its socket and state file. */
  readonly stem: string;
  readonly instance: string;
  readonly pid: number;
}

const PEER_FILE = /^(w([0-9]{1,9})-([0-9]{1,10})-[0-9a-f]{8})\.(sock|state)$/;

/**
 * The names of this process's files: its instance, its pid, and 8 hex digits of its own, so that a
 * later process given the same pid (a container's pids restart low) never takes a dead one's names.
 */
export const stemOf = (instance: string, pid: number, nonce: string): string =>
  `w${instance}-${pid}-${nonce}`;
export const socketPath = (dir: string, stem: string): string => path.join(dir, `${stem}.sock`);
export const statePath = (dir: string, stem: string): string => path.join(dir, `${stem}.state`);
export const RETIRED_FILE = 'retired.state';
const LOCK_FILE = 'retired.lock';
/**
 * A lock older than this is taken over whoever its pid names: a fold (at most `MAX_PM2_PEERS` state
 * files into `MAX_RETIRED_SAMPLES` samples) takes seconds at worst, and a dead owner's pid may be
 * another process's by now.
 */
const LOCK_STALE_MS = 60_000;

/**
 * Creates the directory (mode 0700) or checks the one there: a directory (not a link) of this
 * user that no one else may write to, since what is in it is summed into every scrape. Throws an
 * error that names the directory and the fix.
 */
export async function prepareDirectory(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.lstat(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : stat.uid;
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0)
    throw new Error(
      pm2DirectoryUnsafe(dir, stat.isDirectory() ? 'directory' : 'link or file', stat.uid, uid),
    );
}

/** The instances that have a socket or a state file in `dir`, by stem (at most `max`, lowest pids first). */
export async function listPeers(
  dir: string,
  max: number,
): Promise<{ peers: Map<string, PeerName & { socket: boolean; state: boolean }>; more: boolean }> {
  const peers = new Map<string, PeerName & { socket: boolean; state: boolean }>();
  let more = false;
  for (const name of await fs.readdir(dir)) {
    const match = PEER_FILE.exec(name);
    if (!match) continue;
    const stem = match[1];
    let peer = peers.get(stem);
    if (!peer) {
      if (peers.size >= max) {
        more = true;
        continue;
      }
      peer = { stem, instance: match[2], pid: Number(match[3]), socket: false, state: false };
      peers.set(stem, peer);
    }
    if (match[4] === 'sock') peer.socket = true;
    else peer.state = true;
  }
  return { peers, more };
}

/**
 * Reads an answer kept in a file (an instance's state, or the retired base), frame by frame,
 * yielding between frames once 5 ms are spent; `undefined` when the file does not exist. Throws
 * when it is malformed or larger than `maxBytes`.
 */
export async function readAnswerFile(
  file: string,
  maxWorkerSamples: number,
  maxBytes: number,
  onHeader?: (header: unknown) => void,
): Promise<Answer | undefined> {
  let handle: fs.FileHandle;
  try {
    // Not a link, and not waited on: a FIFO opened for reading blocks (a libuv thread) until a writer comes.
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stat = await handle.stat();
    const { size } = stat;
    if (!stat.isFile()) throw new Error(`${path.basename(file)} is not a file`);
    if (size > maxBytes) throw new Error(`${path.basename(file)} holds ${size} bytes, more than ${maxBytes}`);
    const splitter = new FrameSplitter();
    const reader = new AnswerReader(maxWorkerSamples);
    const buffer = Buffer.allocUnsafe(64 * 1024);
    let sliceStart = performance.now();
    let first = onHeader !== undefined;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      for (const frame of splitter.push(buffer.subarray(0, bytesRead))) {
        if (first) {
          first = false;
          onHeader?.(frame);
          continue;
        }
        const answer = reader.frame(frame);
        if (answer) return answer;
        if (performance.now() - sliceStart >= 5) {
          await nextTurn();
          sliceStart = performance.now();
        }
      }
    }
    throw new Error(`${path.basename(file)} ends before its answer does`);
  } finally {
    await handle.close();
  }
}

/** Writes `lines` to `file` through a temporary file renamed over it: readers see the old or the new whole. */
export async function writeAtomically(
  file: string,
  lines: AsyncIterable<string> | Iterable<string>,
): Promise<void> {
  const temporary = `${file}.tmp`;
  // Made anew (O_EXCL: a link left there is removed, never followed), whatever a crash left.
  await fs.rm(temporary, { force: true });
  const handle = await fs.open(temporary, 'wx', 0o600);
  try {
    for await (const line of lines) await handle.write(line);
  } catch (error) {
    await handle.close();
    await fs.rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await fs.rename(temporary, file);
}

/** Whether a process with this pid exists (a pid reused by another process reads as alive). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock file is: its inode, change time and content (its owner's pid). */
interface LockIdentity {
  readonly ino: number | undefined;
  readonly mtimeMs: number | undefined;
  readonly text: string;
}

async function lockIdentity(lock: string): Promise<LockIdentity> {
  const stat = await fs.lstat(lock).catch(() => undefined);
  const text = await fs.readFile(lock, 'utf8').catch(() => '');
  return { ino: stat?.ino, mtimeMs: stat?.mtimeMs, text };
}

/**
 * Removes a lock judged stale, under a second lock (`<lock>.takeover`, O_EXCL) and only if it is
 * still the one judged: two processes that judged it at once would otherwise both remove it, the
 * second removing the one the first has just taken, and both fold at once (one fold lost).
 */
async function takeOver(lock: string, seen: LockIdentity): Promise<void> {
  const guard = `${lock}.takeover`;
  try {
    await (await fs.open(guard, 'wx', 0o600)).close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process takes it over; a guard left by one killed meanwhile goes once old.
    const stat = await fs.lstat(guard).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS) await fs.rm(guard, { force: true });
    await new Promise((resolve) => setTimeout(resolve, 5));
    return;
  }
  try {
    const now = await lockIdentity(lock);
    if (now.ino === seen.ino && now.text === seen.text && now.mtimeMs === seen.mtimeMs)
      await fs.rm(lock, { force: true });
  } finally {
    await fs.rm(guard, { force: true });
  }
}

/**
 * Runs `work` holding the app's lock (`retired.lock`, made with O_EXCL, holding its owner's pid),
 * which guards `retired.state` and the folding of exited instances into it. A lock whose owner is
 * gone is taken over. `undefined` (and `work` not run) when the lock is not had by `deadline`
 * (`performance.now()` milliseconds).
 */
export async function withLock<T>(
  dir: string,
  deadline: number,
  work: () => Promise<T>,
): Promise<{ done: T } | undefined> {
  const lock = path.join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await fs.open(lock, 'wx', 0o600);
      try {
        await handle.write(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const seen = await lockIdentity(lock);
    const owner = Number.parseInt(seen.text, 10);
    const since = seen.mtimeMs === undefined ? 0 : Date.now() - seen.mtimeMs;
    // An owner that died holding it (or one that had not written its pid yet, seen twice), or a lock
    // older than any fold takes (its owner's pid now another process's): taken over.
    if (
      (Number.isInteger(owner) && owner > 0 && !alive(owner)) ||
      (Number.isNaN(owner) && attempt > 20) ||
      since > LOCK_STALE_MS
    ) {
      await takeOver(lock, seen);
      continue;
    }
    if (performance.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(5 + attempt * 5, 50)));
  }
  try {
    return { done: await work() };
  } finally {
    await fs.rm(lock, { force: true });
  }
}
