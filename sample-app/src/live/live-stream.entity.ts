export interface LiveStream {
  readonly id: string;
  readonly hostId: string;
  readonly title: string;
  readonly viewers: number;
  readonly startedAt: string;
}

/** What a client following a live stream (`GET /live/streams/:id/events`) is sent. */
export interface LiveStreamEvent {
  /** `state` first, then `viewers` at each join or leave, and `ended` last. */
  readonly type: 'state' | 'viewers' | 'ended';
  readonly stream: LiveStream;
}
