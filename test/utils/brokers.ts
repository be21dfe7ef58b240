/**
 * Real message brokers for the RPC and queue specs, from Debian's packages: each started on a free
 * port in a temporary directory of its own and stopped after. Under CI=true a missing program fails
 * the spec (`findTool` throws; .ci/run installs the packages); elsewhere the spec skips with a notice.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus';
import { findTool } from './tools';

export interface Broker {
  readonly port: number;
  readonly url: string;
  /** Sends a signal to the broker's process (SIGSTOP / SIGCONT: a broker that hangs). */
  signal?(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function run(
  name: string,
  command: string,
  args: string[],
  port: number,
  dir: string,
  url: string,
  env?: NodeJS.ProcessEnv,
  after?: () => void,
  stopSignal: NodeJS.Signals = 'SIGTERM',
): Promise<Broker> {
  let output = '';
  const child: ChildProcess = spawn(command, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ?? process.env,
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 1200 && child.exitCode === null; i++) {
    if (await portOpen(port)) {
      return {
        port,
        url,
        signal: (signal) => void child.kill(signal),
        stop: async () => {
          child.kill('SIGCONT');
          child.kill(stopSignal);
          // The grace timer is cleared once the broker exits: left running, it kept Jest's process
          // up to 10 s after the last spec ("Jest did not exit one second after the test run").
          let grace: NodeJS.Timeout | undefined;
          await Promise.race([exited, new Promise<void>((resolve) => (grace = setTimeout(resolve, 10_000)))]);
          clearTimeout(grace);
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          after?.();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  after?.();
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`${name} did not listen on 127.0.0.1:${port}: ${output.slice(-2000)}`);
}

/** `redis-server` (Debian package redis-server), without persistence. */
export async function startRedis(): Promise<Broker | undefined> {
  const bin = findTool('redis-server', 'redis-server');
  if (!bin) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'veza-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  return run('redis-server', bin, args, port, dir, `redis://127.0.0.1:${port}`);
}

/** `nats-server` (Debian package nats-server). */
export async function startNats(): Promise<Broker | undefined> {
  const bin = findTool('nats-server', 'nats-server');
  if (!bin) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'veza-nats-'));
  return run(
    'nats-server',
    bin,
    ['-a', '127.0.0.1', '-p', String(port)],
    port,
    dir,
    `nats://127.0.0.1:${port}`,
  );
}

/** `mosquitto` (Debian package mosquitto). */
export async function startMosquitto(): Promise<Broker | undefined> {
  const bin = findTool('mosquitto', 'mosquitto');
  if (!bin) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'veza-mqtt-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  return run('mosquitto', bin, ['-c', conf], port, dir, `mqtt://127.0.0.1:${port}`);
}

/**
 * `rabbitmq-server` (Debian package rabbitmq-server), run as the current user (not through the
 * package's wrapper, which switches to the rabbitmq user), with its node, data, logs and an epmd of
 * its own on free ports in the temporary directory; the epmd is stopped with it. Slow to start (10
 * to 30 s).
 */
export async function startRabbitmq(): Promise<Broker | undefined> {
  if (!findTool('rabbitmq-server', 'rabbitmq-server')) return undefined;
  const port = await freePort();
  const epmdPort = await freePort();
  const distPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'veza-rabbitmq-'));
  const env = {
    ...process.env,
    HOME: dir,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_NODENAME: `veza${port}@localhost`,
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'none'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const stopEpmd = (): void =>
    void spawnSync('epmd', ['-port', String(epmdPort), '-kill'], { env, stdio: 'ignore' });
  return run(
    'rabbitmq-server',
    '/usr/lib/rabbitmq/bin/rabbitmq-server',
    [],
    port,
    dir,
    `amqp://guest:guest@127.0.0.1:${port}`,
    env,
    stopEpmd,
  );
}

/**
 * The directory of PostgreSQL's server programs (Debian package postgresql keeps them in
 * /usr/lib/postgresql/<major>/bin, off the PATH), or undefined: under CI=true a missing server fails.
 */
function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((d) => existsSync(join(base, d, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length > 0) return join(base, majors[0], 'bin');
  const initdb = findTool('initdb', 'postgresql');
  return initdb === undefined ? undefined : join(initdb, '..');
}

/**
 * A PostgreSQL server (Debian package postgresql) in a temporary cluster of its own: `initdb` with
 * trust authentication for the user `veza`, no fsync, listening on 127.0.0.1 at a free port; the
 * database `postgres` is there to use. PostgreSQL refuses to run as root: as root, both programs run
 * as the Debian package's `postgres` user (`setpriv`, which execs, so the signals reach the server).
 * Returned once it accepts sessions; stopped with SIGINT (fast shutdown: open client connections do
 * not hold it up).
 */
export async function startPostgres(): Promise<Broker | undefined> {
  const bin = postgresBin();
  if (!bin) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'veza-postgres-'));
  const data = join(dir, 'data');
  let prefix: string[] = [];
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || uid <= 0)
      throw new Error(
        'PostgreSQL cannot run as root and there is no "postgres" user (the Debian package postgresql makes it)',
      );
    chownSync(dir, uid, gid);
    prefix = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
  }
  const command = (program: string, args: string[]): [string, string[]] =>
    prefix.length > 0
      ? [prefix[0], [...prefix.slice(1), join(bin, program), ...args]]
      : [join(bin, program), args];
  const [initCommand, initArgs] = command('initdb', [
    '-D',
    data,
    '-U',
    'veza',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--locale=C',
  ]);
  const init = spawnSync(initCommand, initArgs, { cwd: dir, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout || init.error}`);
  }
  const [serverCommand, serverArgs] = command('postgres', [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ]);
  const server = await run(
    'postgres',
    serverCommand,
    serverArgs,
    port,
    dir,
    `postgres://veza@127.0.0.1:${port}/postgres`,
    undefined,
    undefined,
    'SIGINT',
  );
  // The port opens before the server takes sessions ("the database system is starting up", 57P03):
  // pg_isready exits 0 once it accepts them.
  for (let i = 0; i < 1200; i++) {
    const ready = spawnSync(join(bin, 'pg_isready'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'veza',
      '-d',
      'postgres',
      '-q',
    ]);
    if (ready.status === 0) return server;
    await sleep(50);
  }
  await server.stop();
  throw new Error(`postgres listened on 127.0.0.1:${port} but did not accept sessions within 60 s`);
}
