/**
 * The application every fixture of the matrix runs (test/matrix/apps/<name>): plain ESM JavaScript,
 * so that one source serves Nest 10 and 11 (CommonJS) and Nest 12 (ESM) with no build step, and
 * imports the library by its package name as a user's app does. Decorators are applied the way
 * TypeScript's output applies them (`Reflect.decorate`, and `index` for parameters).
 *
 * Routes, under the global prefix `api` and URI version 1:
 * - `GET /api/v1/items/:id`          200
 * - `GET /api/v1/items/denied/:id`   403 from a guard
 * - `GET /api/v1/items/boom/:id`     500 from a thrown Error
 * - `GET /api/v1/auth/login/:outcome` a `@CountLogin()` method: 200 for `ok`, 401 (it throws) otherwise
 * - `GET /api/v1/items/labels`       two series of an injected metric whose values hold `|`
 *
 * With `upstream` given (the fixtures that install TypeORM, cache-manager and terminus), also the
 * routes of libraries.mjs: one use of each library the module measures with no code (issue 23).
 */
// Plain JavaScript run as it is: the types TypeScript would check are not declared here.
/* eslint-disable @typescript-eslint/explicit-module-boundary-types */
import 'reflect-metadata';
import {
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  Param,
  UnauthorizedException,
  UseGuards,
  VersioningType,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CountLogin, InjectMetric, VezaMetric, VezaMetricsModule } from '@veza/nestjs-metrics';

/** Applies method decorators as TypeScript does. */
export function decorateMethod(cls, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
  Object.defineProperty(cls.prototype, name, Reflect.decorate(decorators, cls.prototype, name, descriptor));
}

/** Applies a parameter decorator as TypeScript does (`__param(index, decorator)`). */
export function decorateParam(target, name, index, decorator) {
  decorator(target, name, index);
}

export class DenyGuard {
  canActivate() {
    return false;
  }
}
Reflect.decorate([Injectable()], DenyGuard);

export class AuthService {
  login(outcome) {
    if (outcome !== 'ok') throw new UnauthorizedException('wrong password');
    return { user: 'ada' };
  }
}
decorateMethod(AuthService, 'login', [CountLogin()]);
Reflect.decorate([Injectable()], AuthService);

export class ItemsController {
  constructor(queryErrors) {
    this.queryErrors = queryErrors;
  }
  labels() {
    // One client keys series by joining the values with '|' in sorted label-name order: these two
    // would share the key "a||b|" there. They are two series and must stay two.
    this.queryErrors.inc({ operation: 'b', error_type: 'a|' });
    this.queryErrors.inc({ operation: '|b', error_type: 'a' });
    return { ok: true };
  }
  denied() {
    return { unreachable: true };
  }
  boom() {
    throw new Error('boom');
  }
  get(id) {
    return { id };
  }
}
// Static routes before the parameterised one, as Nest registers them in declaration order.
decorateMethod(ItemsController, 'labels', [Get('labels')]);
decorateMethod(ItemsController, 'denied', [Get('denied/:id'), UseGuards(DenyGuard)]);
decorateMethod(ItemsController, 'boom', [Get('boom/:id')]);
decorateMethod(ItemsController, 'get', [Get(':id')]);
decorateParam(ItemsController.prototype, 'get', 0, Param('id'));
decorateParam(ItemsController, undefined, 0, InjectMetric(VezaMetric.DatabaseQueryErrors));
Reflect.decorate([Controller({ path: 'items', version: '1' })], ItemsController);

export class AuthController {
  constructor(auth) {
    this.auth = auth;
  }
  login(outcome) {
    return this.auth.login(outcome);
  }
}
decorateMethod(AuthController, 'login', [Get('login/:outcome')]);
decorateParam(AuthController.prototype, 'login', 0, Param('outcome'));
decorateParam(AuthController, undefined, 0, Inject(AuthService));
Reflect.decorate([Controller({ path: 'auth', version: '1' })], AuthController);

/**
 * Creates and starts the app on `adapter` ('express' or 'fastify'), with the module's options
 * (e.g. `{ registry }`), and with `upstream` (the base URL of the service the app calls out to) the
 * routes of libraries.mjs. Resolves with the app and its base URL.
 */
export async function startApp(adapter, moduleOptions, upstream) {
  const libraries = upstream
    ? await (await import('./libraries.mjs')).libraryParts(upstream)
    : { imports: [], controllers: [], providers: [] };
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [
          VezaMetricsModule.forRoot({ statusLabel: 'code', defaultMetrics: false, ...moduleOptions }),
          ...libraries.imports,
        ],
        controllers: [ItemsController, AuthController, ...libraries.controllers],
        providers: [AuthService, DenyGuard, ...libraries.providers],
      }),
    ],
    AppModule,
  );
  // A start-up error is thrown to the check (Nest would otherwise log it and exit the process).
  const options = { logger: ['error', 'warn'], abortOnError: false };
  let app;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(AppModule, new FastifyAdapter(), options);
  } else {
    app = await NestFactory.create(AppModule, options);
  }
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  return { app, url };
}
