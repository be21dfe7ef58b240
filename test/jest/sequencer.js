'use strict';
/**
 * The order the spec files start in: the longest first, so that the two workers do not end on one
 * long file each started last. Jest's own sequencer orders by the durations it cached on this
 * machine, and by file size without them (a clean clone, CI): the spec files of test/e2e and
 * test/stress that run a shared body of test/utils/suites/ are a few lines long, and would start last.
 * Here a file's weight is its cached duration when jest has one, else its figure in EXPECTED_MS
 * (from a clean-clone `npm test` on 2 workers), else its size in bytes as milliseconds.
 */
const { default: Sequencer } = require('@jest/test-sequencer');
const path = require('node:path');

/** Seconds a spec took in a clean-clone `npm test` on 2 workers, for the files worth starting first. */
const EXPECTED_S = {
  'test/e2e/slow-scrapers.e2e-spec.ts': 60,
  'test/e2e/hostile-http.e2e-spec.ts': 60,
  'test/stress/hostile-http.stress-spec.ts': 142,
  'test/stress/slow-scrapers.stress-spec.ts': 129,
  'test/stress/decorators-label-flood.stress-spec.ts': 82,
  'test/stress/graphql-hostile.stress-spec.ts': 76,
  'test/stress/hostile-labels.stress-spec.ts': 70,
  'test/stress/cluster.stress-spec.ts': 66,
  'test/e2e/scrape-chunk-reuse.e2e-spec.ts': 63,
  'test/pack/new-app.e2e-spec.ts': 63,
  'test/e2e/cluster.e2e-spec.ts': 55,
  'test/e2e/pm2.e2e-spec.ts': 65,
  'test/e2e/pm2-prometheus.e2e-spec.ts': 60,
  'test/e2e/database-prisma.e2e-spec.ts': 45,
  'test/e2e/whole-catalog.e2e-spec.ts': 30,
  'test/unit/prisma-contract.spec.ts': 20,
  'test/stress/scrape-chunk-reuse.stress-spec.ts': 50,
  'test/pack/pack.e2e-spec.ts': 37,
  'test/e2e/remote-write.e2e-spec.ts': 75,
  'test/e2e/pushgateway.e2e-spec.ts': 36,
  'test/e2e/prometheus.e2e-spec.ts': 36,
  'test/e2e/cluster-stream.e2e-spec.ts': 34,
  'test/e2e/monitoring.e2e-spec.ts': 44,
  'test/e2e/protobuf-exposition.e2e-spec.ts': 28,
  'test/e2e/native-histograms-prometheus.e2e-spec.ts': 20,
};

const ROOT = path.join(__dirname, '..', '..');

class LongestFirst extends Sequencer {
  sort(tests) {
    const weight = (test) =>
      this.time(test) ?? (EXPECTED_S[path.relative(ROOT, test.path).split(path.sep).join('/')] ?? 0) * 1000;
    const size = (test) => test.context.hasteFS.getSize(test.path) ?? 0;
    const keyed = tests.map((test) => ({
      test,
      failed: this.hasFailed(test),
      weight: weight(test) || size(test),
    }));
    keyed.sort((a, b) => (a.failed !== b.failed ? (a.failed ? -1 : 1) : b.weight - a.weight));
    return keyed.map((k) => k.test);
  }
}

module.exports = LongestFirst;
