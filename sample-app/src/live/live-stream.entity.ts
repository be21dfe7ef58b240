export interface LiveStream {
  readonly id: string;
  readonly hostId: string;
  readonly title: string;
  readonly viewers: number;
  readonly startedAt: string;
}
