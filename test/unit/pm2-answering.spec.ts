/**
 * pm2's cluster mode, the answering side (src/pm2/pm2-peer.ts) with a real registry: the state file
 * holds every answer given (and the final counts at close), an asker that stops reading cannot
 * hold the answers after it, and a process given a dead one's pid never takes its names.
 */
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Counter, Registry } from 'prom-client';
import { addAnswering, removeAnswering } from '../../src/cluster/cluster-worker';
import type { MetricJson } from '../../src/cluster/cluster-protocol';
import { Pm2Collector } from '../../src/pm2/pm2-collector';
import { prepareDirectory, readAnswerFile } from '../../src/pm2/pm2-directory';
import { Pm2Peer } from '../../src/pm2/pm2-peer';

const OPTIONS = { timeoutMs: 3_000, aggregators: {}, maxWorkerSamples: 100_000 };
const noEvents = { timedOut: () => undefined, failed: () => undefined };
const total = (parts: MetricJson[][], name: string): number =>
  parts
    .flat()
    .filter((m) => m.name === name)
    .reduce((sum, m) => sum + m.values.reduce((s, v) => s + v.value, 0), 0);

describe('pm2 answering side', () => {
  let dir: string;
  let registry: Registry;
  let counter: Counter<'route'>;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vz-pm2a-'));
    await prepareDirectory(dir);
    registry = new Registry();
    counter = new Counter({ name: 'hits_total', help: 'Hits', labelNames: ['route'], registers: [registry] });
    addAnswering(registry, 1_000);
  });
  afterEach(() => {
    removeAnswering(registry);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes each answer to its state file before the answer ends, and its final counts at close', async () => {
    counter.inc({ route: 'a' }, 3);
    const peer = new Pm2Peer(dir, 'w0-11-0000abcd');
    await peer.listen();
    const collector = new Pm2Collector(dir, OPTIONS, noEvents);
    expect(total((await collector.collect(performance.now() + 5_000)).parts, 'hits_total')).toBe(3);
    const state = await readAnswerFile(path.join(dir, 'w0-11-0000abcd.state'), 100_000, 2 ** 24);
    expect(total(state?.metrics ?? [], 'hits_total')).toBe(3);
    counter.inc({ route: 'a' }, 4);
    await peer.close();
    expect((await fs.readdir(dir)).sort()).toEqual(['w0-11-0000abcd.state']);
    // Exited: folded with its final counts, once.
    for (let i = 0; i < 2; i++)
      expect(total((await collector.collect(performance.now() + 5_000)).parts, 'hits_total')).toBe(7);
  });

  it('an asker that sends a request and never reads holds later answers for its wait and a second at most', async () => {
    // An answer far larger than a socket's buffers.
    for (let i = 0; i < 20_000; i++) counter.inc({ route: `route-${i}-${'x'.repeat(40)}` });
    const peer = new Pm2Peer(dir, 'w0-12-0000abcd');
    await peer.listen();
    const stuck = connect(path.join(dir, 'w0-12-0000abcd.sock'));
    stuck.on('error', () => undefined);
    await new Promise<void>((resolve) => stuck.on('connect', resolve));
    stuck.write(`${JSON.stringify({ type: 'veza-metrics:pm2-collect', v: 1, id: 1, timeoutMs: 300 })}\n`);
    stuck.pause();
    const got = await new Pm2Collector(dir, { ...OPTIONS, timeoutMs: 10_000 }, noEvents).collect(
      performance.now() + 15_000,
    );
    expect(total(got.parts, 'hits_total')).toBe(20_000);
    expect(got.answered.get('0')).toBe(true);
    stuck.destroy();
    await peer.close();
  });

  it("a process given a dead one's pid takes names of its own: both counted, once", async () => {
    const stale = [
      JSON.stringify({
        type: 'veza-metrics:part',
        id: 1,
        metrics: [
          {
            registry: 0,
            name: 'hits_total',
            help: 'Hits',
            type: 'counter',
            values: [{ value: 5, labels: { route: 'a' } }],
          },
        ],
      }),
      JSON.stringify({ type: 'veza-metrics:collected', id: 1, parts: 1, registries: 1 }),
      '',
    ].join('\n');
    await fs.writeFile(path.join(dir, 'w0-13-0000abcd.state'), stale);
    const collector = new Pm2Collector(dir, OPTIONS, noEvents);
    counter.inc({ route: 'a' }, 2);
    const peer = new Pm2Peer(dir, 'w0-13-1111beef');
    await peer.listen();
    for (let i = 0; i < 2; i++)
      expect(total((await collector.collect(performance.now() + 5_000)).parts, 'hits_total')).toBe(7);
    await peer.close();
  });
});
