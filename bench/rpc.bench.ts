/**
 * `npm run bench:rpc`: the CPU one microservice message costs with the RPC recorder, against the
 * same application with `rpc: false` (issue 15: target under 1 µs added per message).
 *
 * Two standalone TCP microservices of one controller are initialised in this process, one recorded
 * and one bare. Each message is the call a transport makes when a message arrives: the handler the
 * server keeps (`messageHandlers`), with Nest's own context creator, guards, interceptors and
 * exception layer, awaited; a request's reply Observable is subscribed to its completion. The
 * sockets and serialisation cost the same with or without the recorder and are left out, so the
 * difference is the recorder's alone. Rounds alternate bare and recorded (BENCH_ROUNDS, 21; each
 * BENCH_MESSAGES, 10,000 messages); the median of the paired differences of process CPU time per message is the cost added.
 */
import { Controller, Module } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import {
  EventPattern,
  MessagePattern,
  Payload,
  Transport,
  type MicroserviceOptions,
} from '@nestjs/microservices';
import { lastValueFrom, of, type Observable } from 'rxjs';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const TARGET_NS = 1000;

@Controller()
class TracksController {
  @MessagePattern('tracks.sum')
  sum(@Payload() numbers: number[]): number {
    return numbers[0] + numbers[1];
  }

  @MessagePattern('tracks.range')
  range(): Observable<number> {
    return of(1, 2, 3);
  }

  @EventPattern('track.played')
  played(@Payload() _track: unknown): void {}
}

type Handler = (data: unknown, ctx: unknown) => Promise<unknown>;

async function handlers(
  rpc: boolean,
): Promise<{ close(): Promise<void>; get(pattern: string): Handler; registry: VezaMetricsRegistry }> {
  @Module({
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, rpc })],
    controllers: [TracksController],
  })
  class BenchModule {}
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(BenchModule, {
    transport: Transport.TCP,
    options: { port: 0 },
    logger: false,
  });
  let server: { messageHandlers: Map<string, Handler> } | undefined;
  app
    .get(ModulesContainer)
    .getRpcTargetRegistry()
    .subscribe((s) => (server = s as typeof server));
  await app.init();
  return {
    close: () => app.close(),
    get: (pattern) => server?.messageHandlers.get(pattern) as Handler,
    registry: app.get(VezaMetricsRegistry),
  };
}

/** One round: `MESSAGES` calls of `handler`, replies drained as a transport would; CPU ns per message. */
async function round(handler: Handler, kind: 'value' | 'observable' | 'event'): Promise<number> {
  const ctx = {};
  const data = [1, 2];
  const start = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) {
    const result = await handler(data, ctx);
    if (kind === 'observable') await lastValueFrom(result as Observable<unknown>);
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / MESSAGES;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const bare = await handlers(false);
  const recorded = await handlers(true);
  const cases = [
    ['request, value reply', 'tracks.sum', 'value'],
    ['request, Observable reply', 'tracks.range', 'observable'],
    ['event', 'track.played', 'event'],
  ] as const;
  let met = true;
  for (const [label, pattern, kind] of cases) {
    const b: number[] = [];
    const r: number[] = [];
    await round(bare.get(pattern), kind);
    await round(recorded.get(pattern), kind);
    for (let i = 0; i < ROUNDS; i++) {
      b.push(await round(bare.get(pattern), kind));
      r.push(await round(recorded.get(pattern), kind));
    }
    // Rounds alternate, so each recorded round is compared with the bare round just before it.
    const added = median(r.map((x, i) => x - b[i]));
    const ok = added < TARGET_NS;
    met &&= ok;
    console.log(
      `${label.padEnd(26)} bare ${median(b).toFixed(0).padStart(6)} ns  recorded ${median(r).toFixed(0).padStart(6)} ns  ` +
        `added ${added.toFixed(0).padStart(5)} ns  target < ${TARGET_NS} ns: ${ok ? 'met' : 'not met'}`,
    );
  }
  const text = await recorded.registry.render();
  const counted = text
    .split('\n')
    .filter((l) => l.startsWith('veza_rpc_server_requests_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  const expected = 3 * (ROUNDS + 1) * MESSAGES;
  console.log(
    `messages counted by the recorder: ${counted} of ${expected} (${counted === expected ? 'exact' : 'NOT exact'})`,
  );
  console.log(`CPU added per message: ${met ? 'met' : 'not met'}`);
  await bare.close();
  await recorded.close();
}

void main();
