/**
 * The part of the matrix app (app.mjs) that uses the libraries the module measures with no code
 * (issue 23): TypeORM on sql.js, `@nestjs/cache-manager`, `@nestjs/terminus` and global `fetch`,
 * one use of each, with no line of it aware of the module. Loaded only by the fixtures that install
 * them (check.mjs passes `upstream` when the fixture's package.json has `@nestjs/typeorm`).
 *
 * Routes, under the global prefix `api` and URI version 1:
 * - `GET /api/v1/tracks`          one TypeORM query: `find()` on the table `tracks` (one row)
 * - `GET /api/v1/settings/:key`   one read of `CACHE_MANAGER` that finds nothing (a miss)
 * - `GET /api/v1/health`          one `HealthCheckService.check()` of the indicator `storage`
 * - `GET /api/v1/upstream`        one outbound `fetch` of `<upstream>/ok`
 */
// Plain JavaScript run as it is: the types TypeScript would check are not declared here.
/* eslint-disable @typescript-eslint/explicit-module-boundary-types */
import { Controller, Get, Inject, Param } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import initSqlJs from 'sql.js';
import { EntitySchema } from 'typeorm';
import { decorateMethod, decorateParam } from './app.mjs';

// An entity without decorators: the same schema on TypeORM 0.3 and 1.x.
export const Track = new EntitySchema({
  name: 'Track',
  tableName: 'tracks',
  columns: {
    id: { type: Number, primary: true, generated: true },
    title: { type: String },
  },
});

export class TracksController {
  constructor(tracks) {
    this.tracks = tracks;
  }
  list() {
    return this.tracks.find();
  }
}
decorateMethod(TracksController, 'list', [Get()]);
decorateParam(TracksController, undefined, 0, InjectRepository(Track));
Reflect.decorate([Controller({ path: 'tracks', version: '1' })], TracksController);

export class SettingsController {
  constructor(cache) {
    this.cache = cache;
  }
  async get(key) {
    return { value: (await this.cache.get(key)) ?? null };
  }
}
decorateMethod(SettingsController, 'get', [Get(':key')]);
decorateParam(SettingsController.prototype, 'get', 0, Param('key'));
decorateParam(SettingsController, undefined, 0, Inject(CACHE_MANAGER));
Reflect.decorate([Controller({ path: 'settings', version: '1' })], SettingsController);

export class HealthController {
  constructor(health) {
    this.health = health;
  }
  check() {
    // A plain indicator function: the same on terminus 10, 11 and 12.
    return this.health.check([async () => ({ storage: { status: 'up' } })]);
  }
}
decorateMethod(HealthController, 'check', [Get()]);
decorateParam(HealthController, undefined, 0, Inject(HealthCheckService));
Reflect.decorate([Controller({ path: 'health', version: '1' })], HealthController);

const UPSTREAM = 'UPSTREAM';
export class UpstreamController {
  constructor(upstream) {
    this.upstream = upstream;
  }
  async ask() {
    const res = await fetch(`${this.upstream}/ok`);
    await res.arrayBuffer();
    return { upstream: res.status };
  }
}
decorateMethod(UpstreamController, 'ask', [Get()]);
decorateParam(UpstreamController, undefined, 0, Inject(UPSTREAM));
Reflect.decorate([Controller({ path: 'upstream', version: '1' })], UpstreamController);

/** A migrated sql.js database, as bytes: the table is there before the app (and its module) start. */
async function database() {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run('CREATE TABLE tracks (id INTEGER PRIMARY KEY AUTOINCREMENT, title VARCHAR NOT NULL)');
  db.run("INSERT INTO tracks (title) VALUES ('A Forest')");
  const bytes = db.export();
  db.close();
  return bytes;
}

/** The imports, controllers and providers app.mjs adds to its module, calling out to `upstream`. */
export async function libraryParts(upstream) {
  return {
    imports: [
      TypeOrmModule.forRoot({ type: 'sqljs', database: await database(), entities: [Track] }),
      TypeOrmModule.forFeature([Track]),
      CacheModule.register(),
      TerminusModule,
    ],
    controllers: [TracksController, SettingsController, HealthController, UpstreamController],
    providers: [{ provide: UPSTREAM, useValue: upstream }],
  };
}
