import { VezaMetric } from '../catalog/catalog';
import { SUCCESS } from '../instrumentation/instrument';
import { counterCell } from '../instrumentation/cells';
import { instrumentMethod } from '../instrumentation/instrument-method';

type UnlabelledCounter =
  typeof VezaMetric.TracksUploaded | typeof VezaMetric.UsersRegistered | typeof VezaMetric.PlaylistsCreated;

/** A decorator that adds one to an unlabelled catalog counter each time the method succeeds. */
function countOnSuccess(name: string, metric: UnlabelledCounter): MethodDecorator {
  const decorator = `@${name}()`;
  return instrumentMethod(decorator, () => ({
    decorator,
    name,
    identity: name,
    timed: false,
    needsArgs: false,
    writes: [metric],
    build: ({ metrics }) => {
      const cell = counterCell(metrics.get(metric));
      return {
        end(outcome) {
          if (outcome === SUCCESS) cell.inc();
        },
      };
    },
  }));
}

/**
 * Counts a track uploaded in `veza_tracks_uploaded_total` when the method succeeds.
 *
 * @example
 * ```ts
 * @CountTrackUploaded()
 * async publish(track: NewTrack): Promise<Track> { ... }
 * ```
 */
export function CountTrackUploaded(): MethodDecorator {
  return countOnSuccess('CountTrackUploaded', VezaMetric.TracksUploaded);
}

/** Counts a user registered in `veza_users_registered_total` when the method succeeds. */
export function CountUserRegistered(): MethodDecorator {
  return countOnSuccess('CountUserRegistered', VezaMetric.UsersRegistered);
}

/** Counts a playlist created in `veza_playlists_created_total` when the method succeeds. */
export function CountPlaylistCreated(): MethodDecorator {
  return countOnSuccess('CountPlaylistCreated', VezaMetric.PlaylistsCreated);
}
