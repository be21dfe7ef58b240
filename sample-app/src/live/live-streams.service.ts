import { ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import type { LiveStream } from './live-stream.entity';

/**
 * Live streams on air and their audiences. Every change publishes `veza_live_streams_active` and the
 * viewers across all active streams.
 */
@Injectable()
export class LiveStreamsService {
  private readonly streams = new Map<string, LiveStream>();

  constructor(private readonly metrics: VezaMetricsService) {}

  start(hostId: string, title: string): LiveStream {
    const stream: LiveStream = { id: randomUUID(), hostId, title, viewers: 0, startedAt: new Date().toISOString() };
    this.streams.set(stream.id, stream);
    this.publish();
    return stream;
  }

  list(): LiveStream[] {
    return [...this.streams.values()];
  }

  join(id: string): LiveStream {
    return this.changeViewers(id, +1);
  }

  leave(id: string): LiveStream {
    return this.changeViewers(id, -1);
  }

  end(hostId: string, id: string): void {
    const stream = this.get(id);
    if (stream.hostId !== hostId) throw new ForbiddenException('Only the host ends a live stream');
    this.streams.delete(id);
    this.publish();
  }

  private get(id: string): LiveStream {
    const stream = this.streams.get(id);
    if (!stream) throw new NotFoundException(`Live stream ${id} is not on air`);
    return stream;
  }

  private changeViewers(id: string, delta: number): LiveStream {
    const stream = this.get(id);
    const next = { ...stream, viewers: Math.max(0, stream.viewers + delta) };
    this.streams.set(id, next);
    this.publish();
    return next;
  }

  private publish(): void {
    this.metrics.updateLiveStreams(this.streams.size);
    this.metrics.updateLiveStreamViewers(this.list().reduce((sum, s) => sum + s.viewers, 0));
  }
}
