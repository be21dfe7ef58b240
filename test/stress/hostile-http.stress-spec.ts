/** test/e2e/hostile-http.e2e-spec.ts with 400 hostile connections in the memory test, as it had before. */
import { describeHostileHttp } from '../utils/suites/hostile-http';

describeHostileHttp({ connections: 400 });
