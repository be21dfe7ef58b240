import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { rawRequest } from './raw-http';

/** The HTTP adapters every e2e spec runs on. */
export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterKind = (typeof ADAPTERS)[number];

/** A started application and its base URL (`http://127.0.0.1:PORT`). */
export interface StartedApp {
  app: INestApplication;
  url: string;
}

/**
 * Compiles a testing module from `metadata`, creates the application on the adapter `kind`, lets
 * `setup` configure it (global prefix, versioning, …), and listens on a free loopback port.
 */
export async function startApp(
  kind: AdapterKind,
  metadata: ModuleMetadata,
  setup?: (app: INestApplication) => void | Promise<void>,
): Promise<StartedApp> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app =
    kind === 'express'
      ? moduleRef.createNestApplication({ logger: false })
      : moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
  await setup?.(app);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  return { app, url };
}

/**
 * GETs the exposition and returns its text, failing on any status but 200. Over a connection of its
 * own ({@link rawRequest}): with `fetch`'s pool, a scrape after a long synchronous stretch (a forced
 * GC, thousands of hostile connections) reused a socket the server had closed meanwhile and failed
 * with `read ECONNRESET` (hostile-http on Fastify, CI at load 5).
 */
export async function scrape(url: string, path = '/metrics'): Promise<string> {
  const res = await rawRequest(url, path);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.body.slice(0, 200)}`);
  return res.body;
}
