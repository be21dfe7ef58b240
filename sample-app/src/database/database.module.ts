import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ENTITIES } from './entities';

/**
 * The sample's database: TypeORM on sql.js (SQLite compiled to WebAssembly, in memory), so the
 * sample needs no database server. The tables are created at start-up (`synchronize`). The Veza
 * module measures every query TypeORM runs (veza_database_query_duration_seconds by operation and
 * table, errors by driver code): the repositories carry no decorator.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'sqljs', entities: ENTITIES, synchronize: true }),
    TypeOrmModule.forFeature(ENTITIES),
  ],
  exports: [TypeOrmModule],
})
export class DatabaseModule {}
