/*
 * What the queue recorder assumes of @nestjs/bullmq and bullmq (contract test:
 * test/unit/queues-bullmq-contract.spec.ts, naming the installed versions; not named compat-*, so that
 * the Nest 10 and 11 matrix, whose fixtures have no BullMQ, does not run it). Tested on @nestjs/bullmq
 * 12.0.0 and bullmq 6.7.0.
 *
 * Q1 A `@Processor()` provider is a `WorkerHost` whose public `worker` getter returns the bullmq
 *    `Worker` that @nestjs/bullmq created for it by the end of `onModuleInit`.
 *    Fallback: a processor without one is not recorded.
 * Q2 A `Worker` emits `active(job)` before it calls the processor, then `completed(job, result)`
 *    or `failed(job, error)` with the same `job` object, once per attempt.
 * Q3 After a failed attempt, `job.finishedOn` is a number when the job moved to the failed set (no
 *    attempt left, or an `UnrecoverableError`) and undefined when it will be retried.
 * Q4 Queues registered with `BullModule.registerQueue()` are providers whose instance is a bullmq
 *    `Queue`, with `name` and `getJobCounts(...states)`. Fallback: no depth for that queue.
 */

import type { ModulesContainer } from '@nestjs/core';
import { appUsesPeer, loadOptionalPeer } from './optional-peers';

/** The part of a bullmq Worker the recorder uses. */
export interface WorkerLike {
  readonly name: string;
  on(event: 'active' | 'completed' | 'failed', listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** The part of a bullmq Queue the recorder uses. */
export interface QueueLike {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/** The part of a bullmq Job the recorder uses. */
export interface JobLike {
  readonly name?: unknown;
  readonly finishedOn?: unknown;
}

interface Loaded {
  WorkerHost: abstract new () => unknown;
  Worker: new (...args: never[]) => unknown;
  Queue: new (...args: never[]) => unknown;
}

let loaded: Loaded | null | undefined;

/**
 * @nestjs/bullmq and bullmq, or null when either is not installed or cannot load (nothing is
 * recorded then), and null without loading either when `modules` (this application's container)
 * shows no use of them (P2 of optional-peers.ts).
 */
export function loadBullmq(modules?: ModulesContainer): Loaded | null {
  if (modules !== undefined && !appUsesPeer(modules, 'bullmq')) return null;
  if (loaded !== undefined) return loaded;
  try {
    const nest = loadOptionalPeer('@nestjs/bullmq') as { WorkerHost: Loaded['WorkerHost'] } | undefined;
    const bull = loadOptionalPeer('bullmq') as
      { Worker: Loaded['Worker']; Queue: Loaded['Queue'] } | undefined;
    loaded = nest && bull ? { WorkerHost: nest.WorkerHost, Worker: bull.Worker, Queue: bull.Queue } : null;
  } catch {
    loaded = null;
  }
  return loaded;
}

/** The worker of a processor instance (Q1), if it is one. */
export function workerOf(instance: unknown, lib: Loaded): WorkerLike | undefined {
  if (!(instance instanceof lib.WorkerHost)) return undefined;
  try {
    const worker = (instance as { worker?: unknown }).worker;
    return worker instanceof lib.Worker ? (worker as WorkerLike) : undefined;
  } catch {
    return undefined;
  }
}

/** A queue provider's instance (Q4), if it is one. */
export function queueOf(instance: unknown, lib: Loaded): QueueLike | undefined {
  return instance instanceof lib.Queue ? (instance as QueueLike) : undefined;
}

/** Whether a failed attempt was the job's last (Q3). */
export function finalFailure(job: JobLike): boolean {
  return typeof job.finishedOn === 'number';
}
