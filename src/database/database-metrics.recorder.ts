import { Injectable, Logger } from '@nestjs/common';
import { VezaMetric } from '../catalog/catalog';
import type { GaugeMetric } from '../compat/client-types';
import { CounterCell, HistogramCell } from '../http/metric-cells';
import { boundedLabel, errorType, readSafely } from '../instrumentation/labels';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { detached, MAX_LABEL_VALUE_LENGTH } from '../registry/series-guard';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { recordingFailed } from '../veza-metrics.messages';
import { databaseOn, type ResolvedDatabaseOptions } from './database-options';
import {
  DATABASE_OPERATIONS,
  endScan,
  scanned,
  scannedTable,
  scanSql,
  TABLE_SPAN,
  type DatabaseOperation,
} from './sql-statement';

/** `table` of a statement that names no table (`BEGIN`, `SELECT 1`, DDL), or whose table was not found. */
export const NO_TABLE = '<none>';
/** `table` of every table past `database.maxTables`, and `error_type` past {@link MAX_ERROR_TYPES}. */
export const OTHER_TABLE = '<other>';
/** How many distinct `error_type` values the recorder keeps cells for; later ones are `<other>`. */
export const MAX_ERROR_TYPES = 100;

const OPERATION_INDEX: ReadonlyMap<string, number> = new Map(DATABASE_OPERATIONS.map((op, i) => [op, i]));
const OTHER_INDEX = DATABASE_OPERATIONS.indexOf('other');

type DurationLabel = 'operation' | 'table';
type ErrorLabel = 'operation' | 'error_type';

/** One table's series: its label value, and one duration cell per operation, made on first use. */
interface TableSeries {
  readonly table: string;
  readonly cells: (HistogramCell<DurationLabel> | undefined)[];
  /** Its key in `tables` (the name as classified), and the next series of the same span hash. */
  readonly key: string;
  next: TableSeries | undefined;
}

/** One error type's series: one counter cell per operation, made on first use. */
interface ErrorSeries {
  readonly type: string;
  readonly cells: (CounterCell<ErrorLabel> | undefined)[];
}

/** A reading of a pool's open connections; `undefined` when it has none to report. */
export type ConnectionSource = () => number | undefined;

type Collect = (this: unknown) => unknown;

/**
 * Records the queries of every ORM seam of the application (TypeORM, Prisma) in the catalog's
 * database families, with no code in the application:
 *
 * - `veza_database_query_duration_seconds{operation, table}`: every query that ends, success or failure;
 * - `veza_database_query_errors_total{operation, error_type}`: every failed query, `error_type` the
 *   driver's short `code` (`23505`, `SQLITE_CONSTRAINT`, `ER_DUP_ENTRY`) or the error's class
 *   (`errorType()` of src/instrumentation/labels.ts);
 * - `veza_database_connections_active`: the sum of the pools' readings ({@link connections}), set
 *   when Prometheus scrapes.
 *
 * `operation` is one of {@link DATABASE_OPERATIONS} (anything else is `other`). `table` is cut to
 * 256 units and bounded: the first `database.maxTables` distinct tables of the application keep their
 * name, later ones are {@link OTHER_TABLE}; a query with no table is {@link NO_TABLE}. Every series
 * is also under the series cap. Nothing here throws to its caller: a failure is logged once and
 * the query goes on as it would without the library.
 */
@Injectable()
export class DatabaseMetricsRecorder {
  private readonly logger = new Logger('VezaMetrics');
  /** The database options of the application (`database`). */
  readonly options: ResolvedDatabaseOptions;
  /** Bound: `options.maxTables` entries, each keyed by a name of at most 256 units. */
  private readonly tables = new Map<string, TableSeries>();
  /**
   * The same series by a hash of their name, so that a statement's table is found from its span in
   * the statement without a copy of the name. Bound: the series of `tables`, each in one chain.
   */
  private readonly bySpan = new Map<number, TableSeries>();
  private readonly none: TableSeries = { table: NO_TABLE, cells: [], key: '', next: undefined };
  private readonly other: TableSeries = { table: OTHER_TABLE, cells: [], key: '', next: undefined };
  /** Bound: {@link MAX_ERROR_TYPES} entries (error types are at most 256 units). */
  private readonly errorTypes = new Map<string, ErrorSeries>();
  private readonly otherError: ErrorSeries = { type: OTHER_TABLE, cells: [] };
  /**
   * A driver's `code` strings already typed, to their series: `errorType()` of an error with such a
   * code is the code itself, so it is not worked out again. Bound: {@link MAX_ERROR_TYPES} entries,
   * keyed by the recorder's own copy (a label value).
   */
  private readonly errorCodes = new Map<string, ErrorSeries>();
  /** Bound: one per pool a seam registered (one per data source). */
  private readonly sources = new Set<ConnectionSource>();
  private collectInstalled = false;
  private failed = false;

  constructor(
    private readonly metrics: VezaMetricsRegistry,
    @InjectVezaMetricsOptions() options: ResolvedOptions<{ database: ResolvedDatabaseOptions }>,
  ) {
    this.options = options.database;
  }

  /** Whether `orm`'s queries are to be recorded (`database` and `database.<orm>` on). */
  on(orm: 'typeorm' | 'prisma'): boolean {
    return databaseOn(this.options, orm);
  }

  /** One query that succeeded: `operation` (one of {@link DATABASE_OPERATIONS}), its table, its duration. */
  record(operation: string, table: string | undefined, seconds: number): void {
    try {
      this.observe(opIndex(operation), table, seconds);
    } catch (error) {
      this.fail(error);
    }
  }

  /** One query that failed with `error`: its duration observed and the error counted by type. */
  recordError(operation: string, table: string | undefined, seconds: number, error: unknown): void {
    try {
      const op = opIndex(operation);
      this.observe(op, table, seconds);
      this.countError(op, error);
    } catch (e) {
      this.fail(e);
    }
  }

  /** One SQL statement that succeeded, labelled as `classifySql` reads it (the statement is never kept). */
  recordStatement(sql: unknown, seconds: number): void {
    try {
      const op = opIndex(scanSql(sql));
      this.observeIn(this.scannedSeries(), op, seconds);
    } catch (error) {
      this.fail(error);
    }
  }

  /** One SQL statement that failed with `error`. */
  recordStatementError(sql: unknown, seconds: number, error: unknown): void {
    try {
      const op = opIndex(scanSql(sql));
      this.observeIn(this.scannedSeries(), op, seconds);
      this.countError(op, error);
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Adds a pool to `veza_database_connections_active`: at each scrape the gauge is set to the sum of
   * every registered source's reading (a source that throws or reads no finite number is left out of
   * the sum). While no source is registered the gauge is left to the application
   * (`VezaMetricsService#updateDatabaseConnections`). Returns what removes the source.
   */
  connections(source: ConnectionSource): () => void {
    try {
      this.sources.add(source);
      if (!this.collectInstalled) this.installCollect();
    } catch (error) {
      this.fail(error);
    }
    return () => {
      this.sources.delete(source);
    };
  }

  private observe(op: number, table: string | undefined, seconds: number): void {
    this.observeIn(this.seriesOf(table), op, seconds);
  }

  private observeIn(series: TableSeries, op: number, seconds: number): void {
    let cell = series.cells[op];
    if (cell === undefined) {
      cell = new HistogramCell<DurationLabel>(this.metrics.get(VezaMetric.DatabaseQueryDuration), {
        operation: DATABASE_OPERATIONS[op],
        table: series.table,
      });
      series.cells[op] = cell;
    }
    cell.observe(seconds);
  }

  private seriesOf(table: string | undefined): TableSeries {
    if (table === undefined || table === '') return this.none;
    if (typeof table !== 'string') return this.none;
    const found = this.tables.get(table);
    if (found !== undefined) return found;
    const cut = table.length > MAX_LABEL_VALUE_LENGTH ? table.slice(0, MAX_LABEL_VALUE_LENGTH) : table;
    if (cut !== table) {
      const long = this.tables.get(cut);
      if (long !== undefined) return long;
    }
    if (this.tables.size >= this.options.maxTables) return this.other;
    const key = detached(cut);
    const series: TableSeries = { table: boundedLabel(key), cells: [], key, next: undefined };
    this.tables.set(key, series);
    return series;
  }

  /** The series of the table the last `scanSql` found: by its span, with no copy once known. */
  private scannedSeries(): TableSeries {
    if (scanned.kind !== TABLE_SPAN) return this.seriesOf(scannedTable());
    const { text, from, to } = scanned;
    endScan();
    let hash = to - from;
    for (let i = from; i < to; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
    const first = this.bySpan.get(hash);
    for (let s = first; s !== undefined; s = s.next)
      if (s.key.length === to - from && text.startsWith(s.key, from)) return s;
    const series = this.seriesOf(text.slice(from, to));
    if (series !== this.other && series !== this.none) {
      series.next = first;
      this.bySpan.set(hash, series);
    }
    return series;
  }

  private countError(op: number, error: unknown): void {
    const code = typeof error === 'object' && error !== null ? readSafely(error, 'code') : undefined;
    let series = typeof code === 'string' ? this.errorCodes.get(code) : undefined;
    if (series === undefined) {
      const type = errorType(error);
      series = this.errorTypes.get(type);
      if (series === undefined) {
        if (this.errorTypes.size >= MAX_ERROR_TYPES) series = this.otherError;
        else {
          series = { type, cells: [] };
          this.errorTypes.set(type, series);
        }
      }
      // Kept when the code alone is the type, whatever error carries it (not a class name that
      // happens to equal a code errorType() refused).
      if (
        typeof code === 'string' &&
        this.errorCodes.size < MAX_ERROR_TYPES &&
        type === code &&
        errorType({ code }) === code
      )
        this.errorCodes.set(type, series);
    }
    let cell = series.cells[op];
    if (cell === undefined) {
      cell = new CounterCell<ErrorLabel>(this.metrics.get(VezaMetric.DatabaseQueryErrors), {
        operation: DATABASE_OPERATIONS[op],
        error_type: series.type,
      });
      series.cells[op] = cell;
    }
    cell.inc();
  }

  private installCollect(): void {
    this.collectInstalled = true;
    const gauge = this.metrics.get(VezaMetric.DatabaseConnectionsActive) as unknown as GaugeMetric<string> & {
      collect?: Collect;
    };
    const previous = gauge.collect;
    const sources = this.sources;
    gauge.collect = function (this: unknown) {
      if (sources.size > 0) {
        let sum = 0;
        let read = false;
        for (const source of sources) {
          try {
            const value = source();
            if (typeof value === 'number' && Number.isFinite(value)) {
              sum += value;
              read = true;
            }
          } catch {
            // A pool that cannot be read is left out of the sum.
          }
        }
        if (read) gauge.set(sum);
      }
      return typeof previous === 'function' ? previous.call(this) : undefined;
    };
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the database recorder', error));
  }
}

function opIndex(operation: string): number {
  return OPERATION_INDEX.get(operation) ?? OTHER_INDEX;
}

/** `operation` as a label: itself when it is one of {@link DATABASE_OPERATIONS}, else `other`. */
export function databaseOperation(operation: string): DatabaseOperation {
  return DATABASE_OPERATIONS[opIndex(operation)];
}
