/**
 * Node cluster: 4 real worker processes aggregated by the primary (test/utils/suites/cluster.ts),
 * with 1,000 requests before the first scrape (test/stress: 10,000).
 */
import { describeCluster } from '../utils/suites/cluster';

describeCluster({ requests: 1_000 });
