import { Injectable } from '@nestjs/common';
import { Timed } from '@veza/nestjs-metrics';

// The EICAR test signature: what every antivirus, ClamAV included, reports as infected.
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Stands in for the ClamAV daemon. */
@Injectable()
export class VirusScanner {
  /** Each scan is timed in the app's own histogram, by verdict (`clean`, `infected`, or `error` when it throws). */
  @Timed<[Buffer], boolean>({
    name: 'sample_virus_scan_duration_seconds',
    help: 'Time the virus scanner took over an uploaded file, by verdict',
    labelNames: ['verdict'],
    labels: ({ result, outcome }) => ({
      verdict: outcome === 'failure' ? 'error' : result ? 'infected' : 'clean',
    }),
    buckets: [0.0001, 0.001, 0.01, 0.1, 1],
  })
  isInfected(content: Buffer): boolean {
    return content.includes(EICAR);
  }
}
