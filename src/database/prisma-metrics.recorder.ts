import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { isSingleton } from '../compat/nest-core';
import { hookPrismaClient, isPrismaClient, type PrismaSettled } from '../compat/prisma';
import { recordingFailed } from '../veza-metrics.messages';
import { DatabaseMetricsRecorder } from './database-metrics.recorder';
import { prismaOperation } from './prisma-operations';

/**
 * Records every query of the application's Prisma clients in the database families, with no code in
 * the application (docs/databases.md, "Prisma"). The clients are the providers of the application's
 * container whose instance is a Prisma client (`class PrismaService extends PrismaClient`, a
 * `useValue` or `useFactory` client), told by shape (PR1 of src/compat/prisma.ts): nothing of Prisma
 * is loaded, and an application without a client costs one pass over its providers at start-up.
 * Each client's own tracing helper is wrapped (PR1): every model query, raw query and
 * `$transaction` of the client and of the clients `$extends` derives from it is timed from the call
 * to its result (PR2, PR3), with `operation` from the action ({@link prismaOperation}), `table` the
 * model's name (none for raw queries and transactions), and a failure counted by Prisma's code
 * (`P2002`) or the error's class (PR4). The promise the application gets is Prisma's own.
 */
@Injectable()
export class PrismaMetricsRecorder implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('VezaMetrics');
  /** Bound: one per client provider of the application. */
  private readonly undo: (() => void)[] = [];
  private stopped = false;
  private failed = false;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly database: DatabaseMetricsRecorder,
  ) {}

  onModuleInit(): void {
    if (!this.database.on('prisma')) return;
    try {
      const listener = (settled: PrismaSettled): void => this.settled(settled);
      for (const module of this.modules.values()) {
        for (const wrapper of module.providers.values()) {
          if (!isSingleton(wrapper)) continue;
          const instance: unknown = wrapper.instance;
          if (!isPrismaClient(instance)) continue;
          const undo = hookPrismaClient(instance as object, listener);
          if (undo) this.undo.push(undo);
        }
      }
    } catch (error) {
      this.fail(error);
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const undo of this.undo.splice(0)) undo();
  }

  private settled(settled: PrismaSettled): void {
    if (this.stopped) return;
    try {
      const operation = prismaOperation(settled.action);
      if (settled.failed) this.database.recordError(operation, settled.model, settled.seconds, settled.error);
      else this.database.record(operation, settled.model, settled.seconds);
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the Prisma recorder', error));
  }
}
