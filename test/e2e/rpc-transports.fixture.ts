/**
 * The microservice of the RPC specs: one handler per case of the known set (a request that
 * succeeds, one that fails, an object pattern, an Observable reply, an event that succeeds, one
 * that fails), and the count each case must leave.
 */
import { Controller } from '@nestjs/common';
import { EventPattern, GrpcMethod, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, map, take, timer, toArray, type Observable } from 'rxjs';
import { join } from 'node:path';

/** An error class of the application's own (`veza_errors_total{type="DecoderError"}`). */
export class DecoderError extends Error {}

/** Milliseconds between the values of the Observable reply: it completes no sooner than 2 of them. */
export const RANGE_STEP_MS = 100;

/** Events handled so far, per pattern: the spec waits for them (events have no reply). */
export const handledEvents = { played: 0, broken: 0 };

@Controller()
export class TracksRpcController {
  @MessagePattern('tracks.sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('tracks.fail')
  fail(): never {
    throw new RpcException('no such track');
  }

  @MessagePattern({ cmd: 'tracks.count', v: 1 })
  count(): Promise<number> {
    return Promise.resolve(42);
  }

  @MessagePattern('tracks.range')
  range(): Observable<number> {
    return timer(0, RANGE_STEP_MS).pipe(take(3));
  }

  @EventPattern('track.played')
  played(@Payload() _track: unknown): void {
    handledEvents.played++;
  }

  @EventPattern('track.broken')
  broken(@Payload() _track: unknown): void {
    handledEvents.broken++;
    throw new DecoderError('decoder broke');
  }
}

/** What a client of the known set needs (ClientProxy's `send` and `emit`). */
export interface RpcClient {
  send<T>(pattern: unknown, data: unknown): Observable<T>;
  emit(pattern: unknown, data: unknown): Observable<unknown>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends the known set and checks every reply is what the handler gave; resolves once all events were handled. */
export async function sendKnownSet(client: RpcClient): Promise<void> {
  const before = { ...handledEvents };
  await expect(firstValueFrom(client.send('tracks.sum', [1, 2, 3]))).resolves.toBe(6);
  await expect(firstValueFrom(client.send('tracks.sum', [4]))).resolves.toBe(4);
  await expect(firstValueFrom(client.send('tracks.fail', {}))).rejects.toEqual({
    status: 'error',
    message: 'no such track',
  });
  await expect(firstValueFrom(client.send({ v: 1, cmd: 'tracks.count' }, {}))).resolves.toBe(42);
  await expect(lastValueFrom(client.send('tracks.range', {}).pipe(toArray()))).resolves.toEqual([0, 1, 2]);
  for (let i = 0; i < 3; i++)
    await lastValueFrom(client.emit('track.played', { id: i }), { defaultValue: undefined });
  for (let i = 0; i < 2; i++)
    await lastValueFrom(client.emit('track.broken', { id: i }), { defaultValue: undefined });
  for (
    let i = 0;
    i < 600 && (handledEvents.played < before.played + 3 || handledEvents.broken < before.broken + 2);
    i++
  )
    await sleep(50);
  // The recording follows the handler's return within the same turn; one more turn for the error's Observable.
  await sleep(50);
}

/** `veza_rpc_server_requests_total` after the known set, as `transport pattern kind outcome` → count. */
export function knownSetCounts(transport: string): Record<string, number> {
  return {
    [`${transport} tracks.sum request success`]: 2,
    [`${transport} tracks.fail request error`]: 1,
    [`${transport} {"cmd":"tracks.count","v":1} request success`]: 1,
    [`${transport} tracks.range request success`]: 1,
    [`${transport} track.played event success`]: 3,
    [`${transport} track.broken event error`]: 2,
  };
}

/** `veza_rpc_server_duration_seconds_count` after the known set. */
export function knownSetDurations(transport: string): Record<string, number> {
  return {
    [`${transport} tracks.sum request`]: 2,
    [`${transport} tracks.fail request`]: 1,
    [`${transport} {"cmd":"tracks.count","v":1} request`]: 1,
    [`${transport} tracks.range request`]: 1,
    [`${transport} track.played event`]: 3,
    [`${transport} track.broken event`]: 2,
  };
}

/** `veza_errors_total` after the known set: the RpcException is an answer the handler chose, the DecoderError a failure. */
export const KNOWN_SET_ERRORS = { 'RpcException error': 1, 'DecoderError critical': 2 };

export const TRACKS_PROTO = join(__dirname, '..', 'fixtures', 'rpc', 'tracks.proto');

/** The gRPC service of the same cases (gRPC has no events). */
@Controller()
export class TracksGrpcController {
  @GrpcMethod('Tracks', 'Sum')
  sum(request: { numbers?: number[] }): { value: number } {
    return { value: (request.numbers ?? []).reduce((a, b) => a + b, 0) };
  }

  @GrpcMethod('Tracks', 'Fail')
  fail(): never {
    throw new RpcException({ code: 5, message: 'no such track' });
  }

  @GrpcMethod('Tracks', 'Range')
  range(request: { count: number }): Observable<{ value: number }> {
    return timer(0, RANGE_STEP_MS).pipe(
      take(request.count),
      map((value) => ({ value })),
    );
  }
}
