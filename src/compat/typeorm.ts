/*
 * TypeORM (0.3.18 and later, 1.x): how the library hears every statement a DataSource runs, through
 * TypeORM's public subscriber API, and reads a pool's connections. Nothing of `typeorm` is loaded:
 * DataSources are found by shape among the application's providers (TO5), and the library's
 * subscriber is a plain object. The application's own Logger and subscribers are left as they are.
 *
 * Contract test: test/unit/typeorm-contract.spec.ts (the matrix's Nest 10/11 jest rows run it against
 * their fixtures' TypeORM: 0.3.31 and 1.1.4). Verified on typeorm 1.1.4 (sql.js, pg) and 0.3.28 (sql.js).
 *
 * TO1 A DataSource keeps its subscribers in the public array `subscribers`, read at every query by
 *     the broadcaster of each of its QueryRunners; an object pushed there (the pattern Nest's TypeORM
 *     recipe shows) gets `beforeQuery(event)` before and `afterQuery(event)` after every statement
 *     a QueryRunner runs through `query()`: find, save, query builder, raw `query()`, and the
 *     `BEGIN`/`START TRANSACTION`, `COMMIT`, `ROLLBACK`, `SAVEPOINT` of transactions. Fallback: a
 *     TypeORM without query events (before 0.3.18) calls neither: nothing is recorded (the contract
 *     test fails first).
 * TO2 `afterQuery`'s event has `query` (the statement), `success`, `executionTime` (milliseconds from
 *     the driver call to its result, a number on success) and `error` (the driver's own error, with
 *     its `code`); a subscriber's return value is awaited only when it is a Promise, and what it
 *     throws would reach the query's caller (so ours never throws). Fallback: no `executionTime`:
 *     the time since the matching `beforeQuery`.
 * TO3 `initialize()` replaces `subscribers` with the ones of its options: a subscriber pushed
 *     before it is dropped. Fallback: a DataSource found before it is initialised is hooked once its
 *     own `initialize()` resolves (its instance's method is wrapped for that).
 * TO4 The PostgreSQL driver keeps its pools (pg-pool) in `master` and `slaves`, each with the public
 *     getters `totalCount` and `idleCount`: connections in use = total - idle. Fallback: a driver
 *     without them (sql.js, whose one database is in process, MySQL, ...) has no reading.
 * TO5 A DataSource is an object with an `options` object whose `type` is a string, a `subscribers`
 *     array, a `driver` object, a boolean `isInitialized` and an `initialize` function.
 *     Fallback: an object of another shape is not taken for one.
 * TO6 On one QueryRunner statements end in the order they began (one connection runs one statement
 *     at a time; sql.js runs each synchronously between its two events). Used only for the duration
 *     of a failed statement (TO2's fallback); a broken order gives a failed statement another's start.
 * TO7 sql.js' errors have no `code`, only SQLite's message (`UNIQUE constraint failed: user.email`):
 *     its leading words are mapped to SQLite's result code names (`SQLITE_CONSTRAINT`, ...); the
 *     message itself is never a label. Fallback: an unknown message is the error's class.
 */

/** What the library reads of a TypeORM DataSource (TO5). */
export interface DataSourceLike {
  readonly options: { readonly type: string; readonly name?: unknown };
  subscribers: unknown[];
  readonly driver: object;
  readonly isInitialized: boolean;
  initialize(): Promise<unknown>;
}

/** Whether `value` has the shape of a TypeORM DataSource (TO5). */
export function isDataSource(value: unknown): value is DataSourceLike {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<DataSourceLike>;
  return (
    typeof v.options === 'object' &&
    v.options !== null &&
    typeof v.options.type === 'string' &&
    Array.isArray(v.subscribers) &&
    typeof v.driver === 'object' &&
    v.driver !== null &&
    typeof v.isInitialized === 'boolean' &&
    typeof v.initialize === 'function'
  );
}

/** What the library is told of each statement: its text, its duration, and its error when it failed. */
export interface StatementListener {
  succeeded(sql: unknown, seconds: number): void;
  failed(sql: unknown, seconds: number, error: unknown): void;
}

/** Starts kept per QueryRunner for a statement under way: at most this many (older ones dropped). */
const MAX_PENDING = 64;

interface QueryEvent {
  readonly queryRunner?: unknown;
  readonly query?: unknown;
  readonly success?: unknown;
  readonly executionTime?: unknown;
  readonly error?: unknown;
}

/**
 * Hears every statement of `dataSource` (TO1-TO3, TO6): a subscriber of ours in its `subscribers`.
 * Neither it nor `listener` throws into the query. Returns what removes it.
 */
export function listenToStatements(dataSource: DataSourceLike, listener: StatementListener): () => void {
  /** Bound: per QueryRunner, {@link MAX_PENDING} numbers; freed with the runner. */
  const started = new WeakMap<object, number[]>();
  const subscriber = {
    beforeQuery(event: QueryEvent): void {
      try {
        const runner = event.queryRunner;
        if (typeof runner !== 'object' || runner === null) return;
        let starts = started.get(runner);
        if (starts === undefined) started.set(runner, (starts = []));
        else if (starts.length >= MAX_PENDING) starts.shift();
        starts.push(performance.now());
      } catch {
        // Never into the query.
      }
    },
    afterQuery(event: QueryEvent): void {
      try {
        const runner = event.queryRunner;
        const start =
          typeof runner === 'object' && runner !== null ? started.get(runner)?.shift() : undefined;
        const ms = event.executionTime;
        const seconds =
          typeof ms === 'number' && Number.isFinite(ms)
            ? ms / 1000
            : start !== undefined
              ? (performance.now() - start) / 1000
              : 0;
        if (event.success === true) listener.succeeded(event.query, seconds);
        else listener.failed(event.query, seconds, event.error);
      } catch {
        // Never into the query.
      }
    },
  };
  let removed = false;
  const add = (): void => {
    if (!removed && !dataSource.subscribers.includes(subscriber)) dataSource.subscribers.push(subscriber);
  };
  let restore: (() => void) | undefined;
  if (dataSource.isInitialized) add();
  else {
    // TO3: initialize() would drop it; added once it resolves.
    const own = Object.prototype.hasOwnProperty.call(dataSource, 'initialize');
    const original: (...args: unknown[]) => Promise<unknown> = Reflect.get(dataSource, 'initialize');
    const initialize = function (this: DataSourceLike, ...args: unknown[]): Promise<unknown> {
      const result: Promise<unknown> = Reflect.apply(original, this, args);
      return result.then((value) => {
        add();
        return value;
      });
    };
    dataSource.initialize = initialize;
    restore = () => {
      if (dataSource.initialize !== initialize) return;
      if (own) dataSource.initialize = original;
      else delete (dataSource as { initialize?: unknown }).initialize;
    };
  }
  return () => {
    removed = true;
    restore?.();
    const at = dataSource.subscribers.indexOf(subscriber);
    if (at >= 0) dataSource.subscribers.splice(at, 1);
  };
}

interface PoolLike {
  readonly totalCount?: unknown;
  readonly idleCount?: unknown;
}

function inUse(pool: unknown): number | undefined {
  if (typeof pool !== 'object' || pool === null) return undefined;
  const { totalCount, idleCount } = pool as PoolLike;
  if (typeof totalCount !== 'number' || typeof idleCount !== 'number') return undefined;
  return Math.max(0, totalCount - idleCount);
}

/**
 * The connections of `dataSource`'s pools in use (TO4), read at each call; `undefined` when its
 * driver has no pool this knows.
 */
export function connectionsInUse(dataSource: DataSourceLike): (() => number | undefined) | undefined {
  const driver = dataSource.driver as { master?: unknown; slaves?: unknown };
  if (inUse(driver.master) === undefined) return undefined;
  return () => {
    let sum = inUse(driver.master);
    if (sum === undefined) return undefined;
    if (Array.isArray(driver.slaves)) for (const pool of driver.slaves) sum += inUse(pool) ?? 0;
    return sum;
  };
}

/** SQLite's messages (sql.js) by their leading words, to its result code names (TO7). */
const SQLITE_MESSAGES: ReadonlyArray<readonly [string, string]> = [
  ['UNIQUE constraint failed', 'SQLITE_CONSTRAINT'],
  ['NOT NULL constraint failed', 'SQLITE_CONSTRAINT'],
  ['FOREIGN KEY constraint failed', 'SQLITE_CONSTRAINT'],
  ['CHECK constraint failed', 'SQLITE_CONSTRAINT'],
  ['PRIMARY KEY must be unique', 'SQLITE_CONSTRAINT'],
  ['no such table', 'SQLITE_ERROR'],
  ['no such column', 'SQLITE_ERROR'],
  ['no such function', 'SQLITE_ERROR'],
  ['near ', 'SQLITE_ERROR'],
  ['incomplete input', 'SQLITE_ERROR'],
  ['table ', 'SQLITE_ERROR'],
  ['database is locked', 'SQLITE_BUSY'],
  ['attempt to write a readonly database', 'SQLITE_READONLY'],
  ['datatype mismatch', 'SQLITE_MISMATCH'],
  ['too many SQL variables', 'SQLITE_RANGE'],
];

/**
 * The error a driver threw, as the library labels it: itself when it has a `code`; for sql.js'
 * code-less errors, an object carrying the SQLite result code its message starts with (TO7); else
 * itself (its class is then the label).
 */
export function driverError(dataSource: DataSourceLike, error: unknown): unknown {
  if (dataSource.options.type !== 'sqljs' || !(error instanceof Error)) return error;
  if ((error as { code?: unknown }).code !== undefined) return error;
  const message = typeof error.message === 'string' ? error.message : '';
  for (const [start, code] of SQLITE_MESSAGES) if (message.startsWith(start)) return { code };
  return error;
}
