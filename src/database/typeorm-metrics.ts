import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { hasStaticTree } from '../compat/nest-core';
import { connectionsInUse, driverError, isDataSource, listenToStatements } from '../compat/typeorm';
import { DatabaseMetricsRecorder } from './database-metrics.recorder';

/**
 * Records every statement of every TypeORM DataSource of the application (`TypeOrmModule.forRoot()`,
 * named or not, `forRootAsync()`, or a DataSource provided by hand), with no code in it: a
 * subscriber of the library's own in each DataSource's public `subscribers` (src/compat/typeorm.ts,
 * TO1-TO7), each statement labelled by its text (`classifySql`), and the connections of PostgreSQL
 * pools summed into `veza_database_connections_active`. Nothing of TypeORM is loaded: DataSources are
 * found by shape among the providers the application built. Hooked at `onModuleInit`, so queries
 * of other providers' `onModuleInit`/`onApplicationBootstrap` are counted; what `initialize()` ran
 * before (`synchronize`, `migrationsRun`) is not.
 */
@Injectable()
export class TypeormMetrics implements OnModuleInit, OnApplicationShutdown {
  /** Bound: one per DataSource of the application. */
  private readonly undo: Array<() => void> = [];

  constructor(
    private readonly modules: ModulesContainer,
    private readonly recorder: DatabaseMetricsRecorder,
  ) {}

  onModuleInit(): void {
    if (!this.recorder.on('typeorm')) return;
    const seen = new Set<object>();
    for (const module of this.modules.values()) {
      for (const wrapper of module.providers.values()) {
        if (!hasStaticTree(wrapper)) continue;
        const instance: unknown = wrapper.instance;
        if (!isDataSource(instance) || seen.has(instance)) continue;
        seen.add(instance);
        this.attach(instance);
      }
    }
  }

  private attach(dataSource: Parameters<typeof listenToStatements>[0]): void {
    const recorder = this.recorder;
    this.undo.push(
      listenToStatements(dataSource, {
        succeeded: (sql, seconds) => recorder.recordStatement(sql, seconds),
        failed: (sql, seconds, error) =>
          recorder.recordStatementError(sql, seconds, driverError(dataSource, error)),
      }),
    );
    const read = connectionsInUse(dataSource);
    if (read) this.undo.push(recorder.connections(read));
  }

  onApplicationShutdown(): void {
    for (const undo of this.undo.splice(0)) undo();
  }
}
