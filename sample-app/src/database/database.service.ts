import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { InMemoryTable, type QueryObserver, type Row } from './in-memory-table';

/** Connections the fake pool opens at start-up, as a pool with `min: 4` would. */
export const DATABASE_POOL_SIZE = 4;

/**
 * The sample's database: in-memory tables standing in for PostgreSQL. Each query is observed in
 * `veza_database_query_duration_seconds`, each failed one counted in `veza_database_query_errors_total`.
 */
@Injectable()
export class DatabaseService implements OnModuleInit, OnModuleDestroy {
  private readonly tables = new Map<string, InMemoryTable<Row>>();
  private readonly observer: QueryObserver;
  private open = false;

  constructor(private readonly metrics: VezaMetricsService) {
    this.observer = {
      queried: (operation, table, seconds) => this.metrics.recordDatabaseQuery(operation, table, seconds),
      failed: (operation, errorType) => this.metrics.recordDatabaseError(operation, errorType),
    };
  }

  onModuleInit(): void {
    this.open = true;
    this.metrics.updateDatabaseConnections(DATABASE_POOL_SIZE);
  }

  onModuleDestroy(): void {
    this.open = false;
    this.metrics.updateDatabaseConnections(0);
  }

  /** The table `name`, created on first use with its unique columns. */
  table<T extends Row>(name: string, uniqueColumns: readonly (keyof T & string)[] = []): InMemoryTable<T> {
    let table = this.tables.get(name);
    if (!table) {
      table = new InMemoryTable<T>(name, this.observer, uniqueColumns) as unknown as InMemoryTable<Row>;
      this.tables.set(name, table);
    }
    return table as unknown as InMemoryTable<T>;
  }

  /** `SELECT 1`: what the health check runs. */
  ping(): void {
    if (!this.open) throw new Error('the database pool is closed');
  }
}
