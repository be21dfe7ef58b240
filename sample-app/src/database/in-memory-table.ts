import { performance } from 'node:perf_hooks';

/** A row of an in-memory table: every table is keyed by `id`. */
export interface Row {
  readonly id: string;
}

/** Thrown when an insert or update would duplicate a unique column, as a SQL database would. */
export class UniqueViolationError extends Error {
  constructor(
    readonly table: string,
    readonly column: string,
  ) {
    super(`duplicate value for ${table}.${column}`);
    this.name = 'UniqueViolationError';
  }
}

/** Thrown when an update or delete names a row that does not exist. */
export class RowNotFoundError extends Error {
  constructor(
    readonly table: string,
    readonly id: string,
  ) {
    super(`no row ${id} in ${table}`);
    this.name = 'RowNotFoundError';
  }
}

/** What a table tells its database about every query it runs. */
export interface QueryObserver {
  queried(operation: string, table: string, seconds: number): void;
  failed(operation: string, errorType: string): void;
}

/**
 * A table of the in-memory database: a map of rows with the few operations the sample needs. Every
 * operation is one "query": timed and reported to the observer, like a real driver's hook would.
 */
export class InMemoryTable<T extends Row> {
  private readonly rows = new Map<string, T>();

  constructor(
    readonly name: string,
    private readonly observer: QueryObserver,
    private readonly uniqueColumns: readonly (keyof T & string)[] = [],
  ) {}

  insert(row: T): T {
    return this.query('insert', () => {
      this.assertUnique(row);
      this.rows.set(row.id, row);
      return row;
    });
  }

  findById(id: string): T | undefined {
    return this.query('select', () => this.rows.get(id));
  }

  findOne(predicate: (row: T) => boolean): T | undefined {
    return this.query('select', () => [...this.rows.values()].find(predicate));
  }

  findMany(predicate: (row: T) => boolean = () => true): T[] {
    return this.query('select', () => [...this.rows.values()].filter(predicate));
  }

  update(id: string, changes: Partial<Omit<T, 'id'>>): T {
    return this.query('update', () => {
      const current = this.rows.get(id);
      if (!current) throw new RowNotFoundError(this.name, id);
      const next = { ...current, ...changes };
      this.assertUnique(next);
      this.rows.set(id, next);
      return next;
    });
  }

  delete(id: string): boolean {
    return this.query('delete', () => this.rows.delete(id));
  }

  private assertUnique(row: T): void {
    for (const column of this.uniqueColumns) {
      const clash = [...this.rows.values()].find((other) => other.id !== row.id && other[column] === row[column]);
      if (clash) throw new UniqueViolationError(this.name, column);
    }
  }

  private query<R>(operation: string, run: () => R): R {
    const started = performance.now();
    try {
      return run();
    } catch (error) {
      this.observer.failed(operation, errorTypeOf(error));
      throw error;
    } finally {
      this.observer.queried(operation, this.name, (performance.now() - started) / 1000);
    }
  }
}

/** A bounded label value for a failed query. */
function errorTypeOf(error: unknown): string {
  if (error instanceof UniqueViolationError) return 'unique_violation';
  if (error instanceof RowNotFoundError) return 'not_found';
  return 'internal';
}
