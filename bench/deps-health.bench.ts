/**
 * `npm run bench:deps:health`: the CPU the health recorder adds to one `HealthCheckService.check()`
 * of `@nestjs/terminus`, per indicator, against the same application with `health: false`
 * (issue #23: target ≤ 1 µs per indicator; a health check is far rarer than a query, the target is
 * the one of the other integrations).
 *
 * Two application contexts (no HTTP: the route's cost is the same with or without the recorder),
 * one recorded and one bare, run the same check of three indicators (two `up()` results, one
 * `degraded()`, as a health endpoint has them). Rounds alternate bare and recorded (BENCH_ROUNDS, 21;
 * each BENCH_CHECKS, 5,000 checks); the median of the paired differences of process CPU time per
 * check, divided by the indicators, is the cost added. Last, the recorder's counts are checked
 * against the checks made.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const CHECKS = Number(process.env.BENCH_CHECKS ?? 5_000);
const INDICATORS = 3;
const TARGET_NS = 1000;

interface Side {
  check(): Promise<unknown>;
  registry: VezaMetricsRegistry;
  close(): Promise<void>;
}

async function side(health: boolean): Promise<Side> {
  @Module({
    imports: [
      VezaMetricsModule.forRoot({ defaultMetrics: false, http: false, health }),
      TerminusModule.forRoot({ logger: false }),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  const service = app.get(HealthCheckService);
  const indicators = app.get(HealthIndicatorService);
  return {
    registry: app.get(VezaMetricsRegistry),
    close: () => app.close(),
    check: () =>
      service.check([
        () => indicators.check('storage').up(),
        () => indicators.check('queue').up(),
        () => indicators.check('search').degraded(),
      ]),
  };
}

/** One round: `CHECKS` checks; process CPU ns per check. */
async function round(s: Side): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < CHECKS; i++) await s.check();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / CHECKS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const bare = await side(false);
  const recorded = await side(true);
  try {
    const b: number[] = [];
    const r: number[] = [];
    await round(bare);
    await round(recorded);
    for (let i = 0; i < ROUNDS; i++) {
      b.push(await round(bare));
      r.push(await round(recorded));
    }
    // Rounds alternate, so each recorded round is compared with the bare round just before it.
    const added = median(r.map((x, i) => x - b[i])) / INDICATORS;
    const ok = added <= TARGET_NS;
    console.log(
      `check of ${INDICATORS} indicators: bare ${median(b).toFixed(0)} ns  recorded ${median(r).toFixed(0)} ns  ` +
        `added per indicator ${added.toFixed(0)} ns  target <= ${TARGET_NS} ns: ${ok ? 'met' : 'not met'}`,
    );
    const text = await recorded.registry.render();
    const count = (service: string): number =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`veza_health_check_duration_ms_count{service="${service}"}`))
          ?.split(' ')
          .pop() ?? 0,
      );
    const expected = (ROUNDS + 1) * CHECKS;
    const exact = ['storage', 'queue', 'search'].every((s) => count(s) === expected);
    console.log(
      `indicators timed by the recorder: ${count('storage')}, ${count('queue')}, ${count('search')} of ${expected} each (${exact ? 'exact' : 'NOT exact'})`,
    );
    console.log(`CPU added per health indicator: ${ok ? 'met' : 'not met'}`);
    if (!exact) process.exitCode = 1;
  } finally {
    await bare.close();
    await recorded.close();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
