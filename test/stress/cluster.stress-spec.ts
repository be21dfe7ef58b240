/** test/e2e/cluster.e2e-spec.ts with the traffic it had: 10,000 requests over 4 workers before the first scrape. */
import { describeCluster } from '../utils/suites/cluster';

describeCluster({ requests: 10_000 });
