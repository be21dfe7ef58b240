import { Subject, map, type Observable } from 'rxjs';
import { CountLogin, InProgress } from '../../../src';
import { harness } from './harness';

/* rxjs 7: `subject.pipe(op)` returns an AnonymousSubject (a Subject), which must still be followed per subscription. */

class Streams {
  readonly events = new Subject<number>();

  @InProgress({ name: 'test_piped_subscribers', help: 'Subscribers of a piped Subject' })
  piped(): Observable<number> {
    return this.events.pipe(map((x) => x * 2));
  }

  @CountLogin()
  login(): Observable<number> {
    return this.events.pipe(map((x) => x));
  }

  @InProgress({ name: 'test_raw_subject_callers', help: 'Calls returning a Subject itself' })
  raw(): Subject<number> {
    return this.events;
  }
}

describe('a piped Subject returned by a decorated method', () => {
  it('is measured per subscription: in progress while subscribed, settled when it completes', async () => {
    const streams = new Streams();
    const h = harness([streams]);
    const piped = streams.piped();
    expect(await h.value('test_piped_subscribers')).toBe(0);
    const seen: number[] = [];
    const subscription = piped.subscribe((v) => seen.push(v));
    expect(await h.value('test_piped_subscribers')).toBe(1);
    streams.events.next(2);
    expect(seen).toEqual([4]);
    subscription.unsubscribe();
    expect(await h.value('test_piped_subscribers')).toBe(0);

    const logins = streams.login();
    expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBeUndefined();
    logins.subscribe();
    streams.events.complete();
    expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
    h.close();
  });

  it('hands back a Subject itself untouched, so the caller can still call next()', () => {
    const streams = new Streams();
    const h = harness([streams]);
    expect(streams.raw()).toBe(streams.events);
    h.close();
  });
});
