import cluster, { type Worker } from 'node:cluster';
import type { CollectRequest } from '../../src/cluster/cluster-protocol';

/** How a fake worker answers a request: the messages it sends, in order (produced lazily). */
export type Answerer<M> = (request: CollectRequest) => Iterable<M>;

const workers = cluster.workers as Record<number, Worker | undefined>;

/**
 * A worker in this (primary) process's `cluster.workers`: what the aggregator sends it goes to
 * `answerer`, whose messages come back one per event-loop turn, as over the IPC channel
 * (`serialized`: each as parsed JSON of its own, as it comes out of the channel).
 */
export function fakeWorker<M>(
  id: number,
  answerer: { current: Answerer<M> },
  { serialized = false }: { serialized?: boolean } = {},
): Worker {
  const worker = {
    id,
    process: { pid: 90_000 + id },
    isConnected: () => true,
    send(message: CollectRequest, _handle: unknown, callback?: (error: Error | null) => void): boolean {
      callback?.(null);
      const messages = answerer.current(message)[Symbol.iterator]();
      const step = (): void => {
        const next = messages.next();
        if (next.done) return;
        cluster.emit('message', worker, serialized ? JSON.parse(JSON.stringify(next.value)) : next.value);
        setImmediate(step);
      };
      setImmediate(step);
      return true;
    },
  } as unknown as Worker;
  workers[id] = worker;
  return worker;
}
