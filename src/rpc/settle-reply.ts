import { Observable, Subscriber } from 'rxjs';

/** Called once per handled message, with the message's start and arguments: `ok` false with the error when the handler failed. */
export type MessageEnd = (start: number, ok: boolean, args: unknown[], error: unknown) => void;

/**
 * Passes a reply's values, error and completion on unchanged, and tells `end` at the first error
 * or completion. A Subscriber of rxjs' own (as its operators use) rather than `pipe(tap())`: rxjs
 * takes it as it is, without the two wrappers it builds around a plain observer.
 */
class EndingSubscriber extends Subscriber<unknown> {
  private ended = false;

  constructor(
    destination: Subscriber<unknown>,
    private readonly end: MessageEnd,
    private readonly start: number,
    private readonly args: unknown[],
  ) {
    super(destination);
  }

  protected override _error(error: unknown): void {
    if (!this.ended) {
      this.ended = true;
      this.end(this.start, false, this.args, error);
    }
    super._error(error);
  }

  protected override _complete(): void {
    if (!this.ended) {
      this.ended = true;
      this.end(this.start, true, this.args, undefined);
    }
    super._complete();
  }
}

/** `reply` as it is, with `end` told once per subscription at its completion or error. */
export function endOfReply(
  reply: Observable<unknown>,
  end: MessageEnd,
  start: number,
  args: unknown[],
): Observable<unknown> {
  return new Observable<unknown>((subscriber) =>
    reply.subscribe(new EndingSubscriber(subscriber, end, start, args)),
  );
}
