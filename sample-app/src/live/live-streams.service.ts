import { ForbiddenException, Injectable, NotFoundException, type MessageEvent } from '@nestjs/common';
import { InProgress, TrackLiveStream, TrackLiveViewers } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { filter, map, startWith, Subject, takeWhile, type Observable } from 'rxjs';
import type { LiveStream, LiveStreamEvent } from './live-stream.entity';

/**
 * Live streams on air and their audiences. Starting and ending a stream moves
 * `veza_live_streams_active`; each viewer who joins or leaves moves the viewers across all active
 * streams (a stream that ends sends its viewers away, one by one).
 */
@Injectable()
export class LiveStreamsService {
  private readonly streams = new Map<string, LiveStream>();
  private readonly changes = new Subject<LiveStreamEvent>();

  @TrackLiveStream('start')
  start(hostId: string, title: string): LiveStream {
    const stream: LiveStream = {
      id: randomUUID(),
      hostId,
      title,
      viewers: 0,
      startedAt: new Date().toISOString(),
    };
    this.streams.set(stream.id, stream);
    return stream;
  }

  list(): LiveStream[] {
    return [...this.streams.values()];
  }

  @TrackLiveViewers('join')
  join(id: string): LiveStream {
    const stream = this.get(id);
    return this.setViewers(stream, stream.viewers + 1);
  }

  /** Leaving a stream nobody watches changes nothing. */
  leave(id: string): LiveStream {
    const stream = this.get(id);
    return stream.viewers > 0 ? this.removeViewer(stream) : stream;
  }

  /** Only the host ends a stream (403 otherwise); its followers get `ended`, then their event stream completes. */
  @TrackLiveStream('end')
  end(hostId: string, id: string): void {
    let stream = this.get(id);
    if (stream.hostId !== hostId) throw new ForbiddenException('Only the host ends a live stream');
    while (stream.viewers > 0) stream = this.removeViewer(stream);
    this.streams.delete(id);
    this.changes.next({ type: 'ended', stream });
  }

  /**
   * The events of a stream on air, for as long as the client follows it (server-sent events): its
   * state, then each change of its audience, until it ends. Followers right now are the app's own
   * gauge `sample_live_event_subscribers`: up when one subscribes, down when it leaves or the stream ends.
   */
  @InProgress({
    name: 'sample_live_event_subscribers',
    help: "Clients following a live stream's events (server-sent events) right now",
  })
  events(id: string): Observable<MessageEvent> {
    const stream = this.get(id);
    // A plain Observable, not the Subject piped: `subject.pipe(...)` is an AnonymousSubject (it has
    // `next`), which the decorators treat as a value rather than follow per subscription.
    return this.changes.asObservable().pipe(
      filter((event) => event.stream.id === id),
      startWith<LiveStreamEvent>({ type: 'state', stream }),
      takeWhile((event) => event.type !== 'ended', true),
      map((event) => ({ type: event.type, data: event.stream })),
    );
  }

  private get(id: string): LiveStream {
    const stream = this.streams.get(id);
    if (!stream) throw new NotFoundException(`Live stream ${id} is not on air`);
    return stream;
  }

  @TrackLiveViewers('leave')
  private removeViewer(stream: LiveStream): LiveStream {
    return this.setViewers(stream, stream.viewers - 1);
  }

  private setViewers(stream: LiveStream, viewers: number): LiveStream {
    const next = { ...stream, viewers };
    this.streams.set(next.id, next);
    this.changes.next({ type: 'viewers', stream: next });
    return next;
  }
}
