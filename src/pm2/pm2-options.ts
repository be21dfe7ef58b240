import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { boolean, check, object, optional, shapeOf, toggle, type Rule } from '../options/option-schema';
import {
  clusterMetricsOf,
  clusterMetricsShape,
  type ClusterMetricsOptions,
  type ResolvedClusterMetricsOptions,
} from '../cluster/cluster-options';

/**
 * Option `pm2` of `VezaMetricsModule`: under pm2's cluster mode (`pm2 start app.js -i 4`), every
 * instance's `/metrics` answers with the sum over every live instance of the app, merged as
 * `serveClusterMetrics` merges a Node cluster's workers. docs/operations.md, "pm2".
 */
export interface Pm2MetricsOptions extends ClusterMetricsOptions {
  /** `false`: each instance answers with its own metrics only. @defaultValue `true` */
  enabled?: boolean;
  /**
   * The directory where the app's instances meet: one local socket and one state file per instance,
   * and the counters of exited instances (`retired.state`). Absolute, at most
   * 80 bytes (a socket's path is limited to 107). Created with mode
   * 0700; an existing one must be a directory of this user, not writable by others.
   * @defaultValue `<os.tmpdir()>/veza-metrics-pm2-<uid>-<hash of PM2_HOME and the app's name>`
   */
  directory?: string;
}

/** `pm2` after validation. */
export interface ResolvedPm2Options extends ResolvedClusterMetricsOptions {
  readonly enabled: boolean;
  /** The directory given, or `undefined` for the default (known only in a pm2 instance). */
  readonly directory: string | undefined;
}

/** The longest `directory`: a socket's name (`w<instance>-<pid>-<nonce>.sock`) and the path must fit in 107 bytes. */
export const MAX_PM2_DIRECTORY_LENGTH = 80;

const directory = optional(
  check<string>(
    (v) =>
      typeof v === 'string' &&
      path.isAbsolute(v) &&
      !v.includes('\0') &&
      Buffer.byteLength(v) <= MAX_PM2_DIRECTORY_LENGTH,
    `an absolute path of at most ${MAX_PM2_DIRECTORY_LENGTH} bytes (a local socket's path is limited to 107 bytes), such as "/run/veza-metrics"`,
  ),
);

/** The module's option `pm2`. */
export const pm2Rule: Rule<ResolvedPm2Options> = toggle(
  object(
    shapeOf<Pm2MetricsOptions>()({
      enabled: boolean(true),
      ...clusterMetricsShape,
      directory,
    }),
    '{ enabled?, timeoutMs?, aggregators?, maxWorkerSamples?, directory? }',
    {
      order: ['enabled', 'timeoutMs', 'aggregators', 'maxWorkerSamples', 'directory'],
      finish: ({ enabled, timeoutMs, aggregators, maxWorkerSamples, directory }) => ({
        ...clusterMetricsOf({ timeoutMs, aggregators, maxWorkerSamples }),
        enabled,
        directory,
      }),
    },
  ),
  'true, false or { enabled?, timeoutMs?, aggregators?, maxWorkerSamples?, directory? }',
);

/** What identifies this process as an instance of a pm2 app in cluster mode; `undefined` elsewhere. */
export interface Pm2Instance {
  /** The app's name (pm2's `name`). */
  readonly app: string;
  /** `NODE_APP_INSTANCE` (or pm2's `instance_var`), else `pm_id`: the `instance` label. */
  readonly instance: string;
}

/**
 * The pm2 instance this process is, read from the environment pm2 gives it (`pm_id`,
 * `exec_mode=cluster_mode`, `name`, `NODE_APP_INSTANCE`); `undefined` outside pm2's cluster mode.
 */
export function pm2InstanceOf(env: NodeJS.ProcessEnv = process.env): Pm2Instance | undefined {
  if (env.pm_id === undefined || env.exec_mode !== 'cluster_mode') return undefined;
  const variable = env.instance_var || 'NODE_APP_INSTANCE';
  const instance = env[variable] ?? env.pm_id;
  return { app: env.name ?? '', instance: /^[0-9]{1,9}$/.test(instance) ? instance : env.pm_id };
}

/** The default directory of an app: one per user, pm2 home and app name. */
export function defaultPm2Directory(app: string, env: NodeJS.ProcessEnv = process.env): string {
  const hash = createHash('sha256')
    .update(`${env.PM2_HOME ?? ''}\0${app}`)
    .digest('hex')
    .slice(0, 12);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const base = tmpdir();
  // A tmpdir too long for a socket path: the system's /tmp.
  const root = Buffer.byteLength(base) <= MAX_PM2_DIRECTORY_LENGTH - 40 ? base : '/tmp';
  return path.join(root, `veza-metrics-pm2-${uid}-${hash}`);
}
