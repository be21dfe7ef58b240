import { Controller, Get, HttpException, Param, Post } from '@nestjs/common';
import { Agent, request } from 'node:http';
import { VezaMetricsModule, VezaMetricsService } from '../../src';
import { ADAPTERS, startApp, type AdapterKind } from '../utils/app';
import { parseExposition } from '../utils/exposition';

@Controller('tracks')
class TracksController {
  constructor(private readonly metrics: VezaMetricsService) {}

  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    if (id.endsWith('7')) throw new HttpException('gone', 410);
    this.metrics.recordDatabaseQuery('select', 'tracks', (Number(id) % 50) / 1000);
    return { id };
  }

  @Post()
  create(): { ok: boolean } {
    this.metrics.recordTrackUploaded();
    this.metrics.recordFileUpload('audio', 'success', 1024 * ((Date.now() % 100) + 1));
    return { ok: true };
  }
}

function get(agent: Agent, url: string, method = 'GET'): Promise<string> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path: pathname, method, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every counter sample, histogram bucket, _sum and _count, keyed by name and labels. */
function monotonicValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const family of parseExposition(text).values()) {
    if (family.type !== 'counter' && family.type !== 'histogram') continue;
    for (const s of family.samples) out.set(`${s.name}${JSON.stringify(s.labels)}`, s.value);
  }
  return out;
}

/** Problems of the histograms of one scrape: _count differs from +Inf, or buckets decrease. */
function histogramProblems(text: string): string[] {
  const problems: string[] = [];
  for (const family of parseExposition(text).values()) {
    if (family.type !== 'histogram') continue;
    const series = new Map<string, { buckets: number[]; inf?: number; count?: number }>();
    for (const s of family.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      const entry = series.get(key) ?? { buckets: [] };
      series.set(key, entry);
      if (s.name.endsWith('_bucket')) {
        if (le === '+Inf') entry.inf = s.value;
        else entry.buckets.push(s.value);
      } else if (s.name.endsWith('_count')) entry.count = s.value;
    }
    for (const [key, e] of series) {
      if (e.inf !== e.count) problems.push(`${family.name}${key}: _count ${e.count} != +Inf ${e.inf}`);
      const all = [...e.buckets, e.inf ?? Infinity];
      if (all.some((v, i) => i > 0 && v < all[i - 1]))
        problems.push(`${family.name}${key}: buckets decrease`);
    }
  }
  return problems;
}

describe.each(ADAPTERS)('honest under load (%s)', (kind: AdapterKind) => {
  it('keeps every counter monotonic and every histogram consistent over 100 scrapes during load', async () => {
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot()],
      controllers: [TracksController],
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    let stop = false;
    let sent = 0;
    // Load: bounded in count (20,000) and stopped as soon as the scrapes are done.
    const load = Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        while (!stop && sent < 20_000) {
          const n = sent++;
          await get(
            agent,
            n % 5 === 0 ? `${url}/tracks` : `${url}/tracks/${n}`,
            n % 5 === 0 ? 'POST' : 'GET',
          ).catch(() => undefined);
          if (worker === 0 && n % 500 === 0) await new Promise((r) => setImmediate(r));
        }
      }),
    );
    try {
      let previous = new Map<string, number>();
      const regressions: string[] = [];
      const inconsistencies: string[] = [];
      const scrapeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 100; i++) {
        const text = await get(scrapeAgent, `${url}/metrics`);
        inconsistencies.push(...histogramProblems(text));
        const current = monotonicValues(text);
        for (const [key, value] of previous) {
          const now = current.get(key);
          if (now === undefined || now < value) regressions.push(`${key}: ${value} -> ${now}`);
        }
        previous = current;
      }
      scrapeAgent.destroy();
      expect(regressions).toEqual([]);
      expect(inconsistencies).toEqual([]);
      // The load really ran while the scrapes did.
      expect(sent).toBeGreaterThan(100);
    } finally {
      stop = true;
      await load;
      agent.destroy();
      await app.close();
    }
  }, 120_000);
});
