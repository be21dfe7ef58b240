import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { GaugeSource, VezaMetric } from '@veza/nestjs-metrics';
import { InMemoryTable, type Row } from './in-memory-table';

/** Connections the fake pool opens at start-up, as a pool with `min: 4` would. */
export const DATABASE_POOL_SIZE = 4;

/**
 * The sample's database: in-memory tables standing in for PostgreSQL, behind a pool that opens at
 * start-up and closes at shutdown. The pool's size is read when Prometheus scrapes
 * (`veza_database_connections_active`); the queries are measured by the repositories.
 */
@Injectable()
export class DatabaseService implements OnModuleInit, OnModuleDestroy {
  private readonly tables = new Map<string, InMemoryTable<Row>>();
  private open = false;

  onModuleInit(): void {
    this.open = true;
  }

  onModuleDestroy(): void {
    this.open = false;
  }

  /** The connections of the pool: all of them while it is open. */
  @GaugeSource(VezaMetric.DatabaseConnectionsActive)
  activeConnections(): number {
    return this.open ? DATABASE_POOL_SIZE : 0;
  }

  /** The table `name`, created on first use with its unique columns. */
  table<T extends Row>(name: string, uniqueColumns: readonly (keyof T & string)[] = []): InMemoryTable<T> {
    let table = this.tables.get(name);
    if (!table) {
      table = new InMemoryTable<T>(name, uniqueColumns) as unknown as InMemoryTable<Row>;
      this.tables.set(name, table);
    }
    return table as unknown as InMemoryTable<T>;
  }

  /** `SELECT 1`: what the health check runs. */
  ping(): void {
    if (!this.open) throw new Error('the database pool is closed');
  }
}
