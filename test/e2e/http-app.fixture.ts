/**
 * The application of the HTTP e2e specs: one route per case of issue 3's point 1, under a global
 * prefix (`api`) and URI versioning (default version 1), on either adapter.
 */
import {
  Body,
  Catch,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Injectable,
  Module,
  Param,
  ParseIntPipe,
  Post,
  Query,
  Redirect,
  Req,
  Res,
  ServiceUnavailableException,
  StreamableFile,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  ValidationPipe,
  Version,
  VERSION_NEUTRAL,
  VersioningType,
  type ArgumentsHost,
  type CanActivate,
  type ExceptionFilter,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type ModuleMetadata,
  type NestInterceptor,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { SkipThrottle, Throttle, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { IsInt, IsString, Min } from 'class-validator';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Observable } from 'rxjs';
import { NoMetrics, VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { heldRequests } from './http-client.fixture';

/** An interceptor of the application's own, attached globally: it must change no count and no answer. */
@Injectable()
export class PassThroughInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

export class CreateTrackDto {
  @IsString()
  title!: string;

  @IsInt()
  @Min(1)
  seconds!: number;
}

/** Not an HttpException: Nest answers 500. */
export class TrackStoreError extends Error {}
/** Answered 418 by {@link TeapotFilter}. */
export class TeapotError extends Error {}
/** Answered 503 by {@link MaintenanceFilter}. */
export class MaintenanceError extends Error {}

@Catch(TeapotError)
class TeapotFilter implements ExceptionFilter {
  catch(_exception: TeapotError, host: ArgumentsHost): void {
    reply(host.switchToHttp().getResponse(), 418, { teapot: true });
  }
}

@Catch(MaintenanceError)
class MaintenanceFilter implements ExceptionFilter {
  catch(_exception: MaintenanceError, host: ArgumentsHost): void {
    reply(host.switchToHttp().getResponse(), 503, { maintenance: true });
  }
}

/** Answers on either adapter's response object (Express `res`, Fastify `reply`). */
function reply(res: unknown, status: number, body: unknown): void {
  const r = res as {
    status?: (s: number) => { json?: (b: unknown) => void; send: (b: unknown) => void };
    code?: (s: number) => { send: (b: unknown) => void };
  };
  if (typeof r.code === 'function') r.code(status).send(body);
  else (r.status as (s: number) => { json: (b: unknown) => void })(status).json(body);
}

@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (req.headers['x-token'] !== 'ok') throw new UnauthorizedException();
    return true;
  }
}

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A body of `chunks` chunks of 1 KiB, one every `everyMs` milliseconds. */
function slowBody(chunks: number, everyMs: number): Readable {
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Readable({
    read() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        this.push(sent++ < chunks ? Buffer.alloc(1024, 97) : null);
      }, everyMs);
    },
    destroy(error, callback) {
      clearTimeout(timer);
      callback(error);
    },
  });
}

@Controller('tracks')
export class TracksController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): { id: number } {
    return { id };
  }

  @Post()
  create(@Body() dto: CreateTrackDto): CreateTrackDto {
    return dto;
  }

  @Delete(':id')
  @HttpCode(204)
  remove(): void {}

  @Get(':id/listen')
  @Redirect('https://cdn.example/track', 302)
  listen(): void {}

  @Get(':id/internal')
  @NoMetrics()
  internal(): { internal: true } {
    return { internal: true };
  }

  @Get(':id')
  @Version('2')
  getV2(@Param('id') id: string): { id: string; v: 2 } {
    return { id, v: 2 };
  }
}

@Controller('errors')
@UseFilters(TeapotFilter, MaintenanceFilter)
export class ErrorsController {
  @Get('conflict')
  conflict(): never {
    throw new HttpException('taken', HttpStatus.CONFLICT);
  }

  @Get('unavailable')
  unavailable(): never {
    throw new ServiceUnavailableException();
  }

  @Get('plain')
  plain(): never {
    throw new Error('boom');
  }

  @Get('store')
  async store(): Promise<never> {
    await delay(1);
    throw new TrackStoreError('disk full');
  }

  @Get('teapot')
  teapot(): never {
    throw new TeapotError();
  }

  @Get('maintenance')
  maintenance(): never {
    throw new MaintenanceError();
  }

  /** A 500 the handler sets itself, with no exception. */
  @Get('manual')
  manual(@Res() res: unknown): void {
    reply(res, 500, { manual: true });
  }
}

@Controller('secure')
export class SecureController {
  @Get('private')
  @UseGuards(TokenGuard)
  private(): { secret: number } {
    return { secret: 42 };
  }

  @Get('admin')
  @UseGuards(DenyGuard)
  admin(): { admin: true } {
    return { admin: true };
  }
}

@Controller('limited')
@UseGuards(ThrottlerGuard)
export class LimitedController {
  @Get('short')
  @SkipThrottle({ longTerm: true, default: true })
  @Throttle({ short: { limit: 3, ttl: 60_000 } })
  short(): { ok: true } {
    return { ok: true };
  }

  @Get('long')
  @SkipThrottle({ short: true, default: true })
  @Throttle({ longTerm: { limit: 5, ttl: 60_000 } })
  long(): { ok: true } {
    return { ok: true };
  }

  @Get('default')
  @SkipThrottle({ short: true, longTerm: true })
  @Throttle({ default: { limit: 2, ttl: 60_000 } })
  byDefault(): { ok: true } {
    return { ok: true };
  }
}

@Controller('files')
export class FilesController {
  /** 5 chunks, 25 ms apart: at least 125 ms until the last byte. */
  @Get('slow')
  slow(): StreamableFile {
    return new StreamableFile(slowBody(5, 25), { type: 'application/octet-stream' });
  }

  /** A body of 3 s, longer than any client waits for: the client aborts it. */
  @Get('endless')
  endless(): StreamableFile {
    return new StreamableFile(slowBody(300, 10), { type: 'application/octet-stream' });
  }

  /** Held until its client aborted it and the test released it ({@link heldRequests}). */
  @Get('wait/:ms')
  wait(
    @Param('ms', ParseIntPipe) ms: number,
    @Query('hold') hold: string,
    @Req() req: { socket?: Socket; raw?: { socket?: Socket } },
  ): Promise<{ waited: number }> {
    return heldRequests.hold(hold, req.raw?.socket ?? req.socket, { waited: ms });
  }
}

@Controller({ path: 'ping', version: VERSION_NEUTRAL })
export class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

@Controller('health')
@NoMetrics()
export class HealthController {
  @Get()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

@Controller('ignored')
export class IgnoredController {
  @Get()
  ignored(): string {
    return 'not recorded (http.exclude)';
  }
}

export const CONTROLLERS = [
  TracksController,
  ErrorsController,
  SecureController,
  LimitedController,
  FilesController,
  PingController,
  HealthController,
  IgnoredController,
];

/** The route templates of the application that are recorded (method and template). */
export const RECORDED_ROUTES = [
  'GET /api/v1/tracks/:id',
  'POST /api/v1/tracks',
  'DELETE /api/v1/tracks/:id',
  'GET /api/v1/tracks/:id/listen',
  'GET /api/v2/tracks/:id',
  'GET /api/v1/errors/conflict',
  'GET /api/v1/errors/unavailable',
  'GET /api/v1/errors/plain',
  'GET /api/v1/errors/store',
  'GET /api/v1/errors/teapot',
  'GET /api/v1/errors/maintenance',
  'GET /api/v1/errors/manual',
  'GET /api/v1/secure/private',
  'GET /api/v1/secure/admin',
  'GET /api/v1/limited/short',
  'GET /api/v1/limited/long',
  'GET /api/v1/limited/default',
  'GET /api/v1/files/slow',
  'GET /api/v1/files/endless',
  'GET /api/v1/files/wait/:ms',
  'GET /api/ping',
];

@Module({})
class Empty {}

/** The testing module's metadata: the module under test with `options`, throttlers, controllers. */
export function httpAppMetadata(options: VezaMetricsModuleOptions = {}, extraProviders: unknown[] = []) {
  return {
    imports: [
      VezaMetricsModule.forRoot({
        defaultMetrics: false,
        http: { exclude: ['/api/v1/ignored'] },
        ...options,
      }),
      ThrottlerModule.forRoot([
        { name: 'default', ttl: 60_000, limit: 1_000 },
        { name: 'short', ttl: 60_000, limit: 1_000 },
        // Mixed case: the Retry-After-longterm header gives it in lower case, the options give it back.
        { name: 'longTerm', ttl: 60_000, limit: 1_000 },
      ]),
      Empty,
    ],
    controllers: CONTROLLERS,
    providers: extraProviders as never[],
  };
}

/** Global prefix `api`, URI versioning with default version 1, the validation pipe. */
export function setUpHttpApp(app: INestApplication): void {
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
  app.useGlobalPipes(new ValidationPipe());
}

/**
 * Like `startApp` of the test utilities, with `forceCloseConnections`: a Fastify application that
 * answered a request its client aborted otherwise waits for the connection's keep-alive timeout
 * (72 s) to close, with or without this library. Nest's option closes them on Express and, from
 * Nest 12, on Fastify; Nest 10 and 11's FastifyAdapter ignores it (its close() is Fastify's alone),
 * so Fastify gets its own `forceCloseConnections: true` too: at close, the test client's keep-alive
 * connections (fetch's pool, still open after the last request) are closed by the server whatever
 * state Node tracks them in. Nothing of what a spec asserts happens after close().
 */
export async function startHttpApp(
  kind: 'express' | 'fastify',
  metadata: ModuleMetadata,
  setup: (app: INestApplication) => void = setUpHttpApp,
): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const options = { logger: false as const, forceCloseConnections: true };
  const app =
    kind === 'express'
      ? moduleRef.createNestApplication(options)
      : moduleRef.createNestApplication(new FastifyAdapter({ forceCloseConnections: true }), options);
  setup(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1') };
}
