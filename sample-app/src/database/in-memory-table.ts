/** A row of an in-memory table: every table is keyed by `id`. */
export interface Row {
  readonly id: string;
}

/**
 * Thrown when an insert or update would duplicate a unique column, as a SQL database would. Its
 * `code`, like a driver's (`23505` in PostgreSQL), is the `error_type` of the failed query.
 */
export class UniqueViolationError extends Error {
  readonly code = 'unique_violation';

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
  readonly code = 'not_found';

  constructor(
    readonly table: string,
    readonly id: string,
  ) {
    super(`no row ${id} in ${table}`);
    this.name = 'RowNotFoundError';
  }
}

/**
 * A table of the in-memory database: a map of rows with the few operations the sample needs. Each
 * operation is one "query"; the repositories (`*.repository.ts`) run them, and their methods say
 * with `@TrackDbQuery(operation, table)` what is measured.
 */
export class InMemoryTable<T extends Row> {
  private readonly rows = new Map<string, T>();

  constructor(
    readonly name: string,
    private readonly uniqueColumns: readonly (keyof T & string)[] = [],
  ) {}

  insert(row: T): T {
    this.assertUnique(row);
    this.rows.set(row.id, row);
    return row;
  }

  findById(id: string): T | undefined {
    return this.rows.get(id);
  }

  findOne(predicate: (row: T) => boolean): T | undefined {
    return [...this.rows.values()].find(predicate);
  }

  findMany(predicate: (row: T) => boolean = () => true): T[] {
    return [...this.rows.values()].filter(predicate);
  }

  update(id: string, changes: Partial<Omit<T, 'id'>>): T {
    const current = this.rows.get(id);
    if (!current) throw new RowNotFoundError(this.name, id);
    const next = { ...current, ...changes };
    this.assertUnique(next);
    this.rows.set(id, next);
    return next;
  }

  delete(id: string): boolean {
    return this.rows.delete(id);
  }

  private assertUnique(row: T): void {
    for (const column of this.uniqueColumns) {
      const clash = [...this.rows.values()].find(
        (other) => other.id !== row.id && other[column] === row[column],
      );
      if (clash) throw new UniqueViolationError(this.name, column);
    }
  }
}
