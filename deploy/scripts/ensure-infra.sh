#!/usr/bin/env bash
# Make sure the local infrastructure the mesh needs is up (idempotent):
#   - NATS with JetStream on 127.0.0.1:4222
#   - PostgreSQL on 127.0.0.1:5432, user postgres reachable without a password,
#     max_connections >= 200 (tests run many services in parallel, each with a pool)
#   - the dev/test OpenID Provider on 127.0.0.1:8100 (deploy/oidc, Node.js)
# Runs as root, or through sudo when not root. Only ever touches loopback.
set -euo pipefail

NATS_HOST=127.0.0.1
NATS_PORT=4222
NATS_STORE=/var/lib/nats-server
NATS_LOG=/var/log/nats-server.log
PG_HOST=127.0.0.1
PG_PORT=5432
PG_MIN_CONNECTIONS=200
PG_SET_CONNECTIONS=300

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
else
    if ! command -v sudo >/dev/null 2>&1; then
        echo "ensure-infra: not root and sudo is not available" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

log() { echo "ensure-infra: $*" >&2; }
die() { echo "ensure-infra: error: $*" >&2; exit 1; }

# reachable HOST PORT: true when a TCP connect succeeds within 1 s.
reachable() {
    timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" >/dev/null 2>&1
}

# wait_port HOST PORT SECONDS
wait_port() {
    local host=$1 port=$2 secs=$3 i
    for ((i = 0; i < secs; i++)); do
        reachable "$host" "$port" && return 0
        sleep 1
    done
    reachable "$host" "$port"
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not available; install $* by hand"
    if [[ $APT_UPDATED -eq 0 ]]; then
        "${SUDO[@]}" apt-get update
        APT_UPDATED=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# ---------------------------------------------------------------- NATS
# The INFO line a NATS server sends on connect says "jetstream":true when JetStream
# is enabled; read it with bash /dev/tcp instead of needing a NATS client.
check_jetstream() {
    local info
    info=$(timeout 2 bash -c "exec 3<>/dev/tcp/$NATS_HOST/$NATS_PORT; IFS= read -r -t 1 line <&3; printf '%s' \"\$line\"" 2>/dev/null) || true
    if [[ $info == *'"jetstream":true'* ]]; then
        echo "nats: jetstream enabled"
    elif [[ $info == INFO* ]]; then
        echo "nats: WARNING: the server on $NATS_HOST:$NATS_PORT does not report JetStream; the mesh needs it (restart nats-server with -js)" >&2
    else
        echo "nats: note: could not read the server INFO line; JetStream not checked" >&2
    fi
}

ensure_nats() {
    if reachable "$NATS_HOST" "$NATS_PORT"; then
        echo "nats: ok ($NATS_HOST:$NATS_PORT)"
        check_jetstream
        return 0
    fi

    local bin=/usr/sbin/nats-server
    if [[ ! -x $bin ]]; then
        if command -v nats-server >/dev/null 2>&1; then
            bin=$(command -v nats-server)
        else
            log "nats-server not found, installing"
            apt_install nats-server
            if [[ ! -x $bin ]]; then
                bin=$(command -v nats-server) || die "nats-server still missing after install"
            fi
        fi
    fi

    log "starting $bin on $NATS_HOST:$NATS_PORT with JetStream"
    "${SUDO[@]}" mkdir -p "$NATS_STORE"
    "${SUDO[@]}" start-stop-daemon --start --oknodo --background --exec "$bin" -- \
        -a "$NATS_HOST" -p "$NATS_PORT" -js -sd "$NATS_STORE" -l "$NATS_LOG"

    if ! wait_port "$NATS_HOST" "$NATS_PORT" 20; then
        echo "--- last lines of $NATS_LOG" >&2
        "${SUDO[@]}" tail -n 30 "$NATS_LOG" >&2 2>/dev/null || true
        die "nats did not answer on $NATS_HOST:$NATS_PORT within 20 s"
    fi
    echo "nats: ok ($NATS_HOST:$NATS_PORT, started with JetStream)"
    check_jetstream
}

# ---------------------------------------------------------------- PostgreSQL
# Prints "<version> <cluster>" of the cluster to manage: the one configured on
# port 5432 if pg_lsclusters knows it, else the newest version's "main".
pg_cluster() {
    local line=""
    if command -v pg_lsclusters >/dev/null 2>&1; then
        line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }') || true
    fi
    if [[ -z $line && -d /etc/postgresql ]]; then
        local ver
        ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
        if [[ -n $ver && -d /etc/postgresql/$ver/main ]]; then
            line="$ver main"
        fi
    fi
    echo "$line"
}

pg_psql() {
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -X -v ON_ERROR_STOP=1 -Atq -w "$@"
}

pg_auth_error() {
    cat >&2 <<MSG
ensure-infra: error: PostgreSQL answers on $PG_HOST:$PG_PORT, but
    psql -h $PG_HOST -U postgres -c 'select 1'
fails. The project needs the superuser "postgres" reachable WITHOUT a password
on $PG_HOST:$PG_PORT (trust auth for host connections from 127.0.0.1/32 in
pg_hba.conf). This script does not change authentication settings.
If your admin connection lives elsewhere, point RELIEF_PG_ADMIN_URL at it
(default: postgres://postgres@$PG_HOST:$PG_PORT/postgres) and set up the
database yourself.
MSG
    exit 1
}

ensure_postgres() {
    local started=0
    if ! reachable "$PG_HOST" "$PG_PORT"; then
        if ! command -v pg_ctlcluster >/dev/null 2>&1; then
            log "pg_ctlcluster not found, installing postgresql"
            apt_install postgresql
        fi
        local cl
        cl=$(pg_cluster)
        if [[ -n $cl ]]; then
            log "starting PostgreSQL cluster $cl"
            # shellcheck disable=SC2086
            "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect $cl start || true
        else
            local ver
            ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)
            [[ -n $ver ]] || die "no PostgreSQL version found under /usr/lib/postgresql"
            log "no cluster found, creating $ver main"
            "${SUDO[@]}" pg_createcluster "$ver" main -p "$PG_PORT" --start
        fi
        wait_port "$PG_HOST" "$PG_PORT" 30 || die "PostgreSQL did not answer on $PG_HOST:$PG_PORT within 30 s"
        started=1
    fi

    command -v psql >/dev/null 2>&1 || die "psql not found (install postgresql-client)"
    # Freshly started servers may accept TCP before they accept logins.
    local i
    for ((i = 0; i < 10; i++)); do
        pg_psql -c 'select 1' >/dev/null 2>&1 && break
        sleep 1
    done
    pg_psql -c 'select 1' >/dev/null 2>&1 || pg_auth_error

    local maxc
    maxc=$(pg_psql -c 'SHOW max_connections')
    if ((maxc < PG_MIN_CONNECTIONS)); then
        log "max_connections is $maxc (< $PG_MIN_CONNECTIONS), raising to $PG_SET_CONNECTIONS and restarting"
        local cl
        cl=$(pg_cluster)
        [[ -n $cl ]] || die "max_connections is $maxc but no pg_ctlcluster-managed cluster on port $PG_PORT to restart; raise it to >= $PG_MIN_CONNECTIONS by hand"
        pg_psql -c "ALTER SYSTEM SET max_connections = $PG_SET_CONNECTIONS"
        # shellcheck disable=SC2086
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect $cl restart
        wait_port "$PG_HOST" "$PG_PORT" 30 || die "PostgreSQL did not come back on $PG_HOST:$PG_PORT within 30 s after restart"
        for ((i = 0; i < 10; i++)); do
            pg_psql -c 'select 1' >/dev/null 2>&1 && break
            sleep 1
        done
        maxc=$(pg_psql -c 'SHOW max_connections') || pg_auth_error
        ((maxc >= PG_MIN_CONNECTIONS)) || die "max_connections is still $maxc after restart"
    fi

    if ((started)); then
        echo "postgres: ok ($PG_HOST:$PG_PORT, started, max_connections=$maxc)"
    else
        echo "postgres: ok ($PG_HOST:$PG_PORT, max_connections=$maxc)"
    fi
}

ensure_nats
ensure_postgres

# The end-to-end test of a department's own system written with another language's NATS client
# (tests/python/department_system.py) runs in this virtualenv.
ensure_python_client() {
    local root venv
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    venv=$root/.venv-tests
    if [[ ! -x $venv/bin/python3 ]] || ! "$venv/bin/python3" -c 'import nats' 2>/dev/null; then
        python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'nats-py==2.16.0' ||
            die "pip could not install nats-py into $venv"
    fi
    # The end-to-end bank test validates pain.001 files and pain.002 reports against the
    # vendored official ISO 20022 schemas (services/payment/xsd/) with xmlschema.
    if ! "$venv/bin/python3" -c 'import xmlschema' 2>/dev/null; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'xmlschema==4.3.2' ||
            die "pip could not install xmlschema into $venv"
    fi
    # Schemathesis generates requests from docs/openapi.yaml against every service
    # (tests/tests/e2e/http_fuzz.rs).
    if [[ ! -x $venv/bin/schemathesis ]]; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.32.5' ||
            die "pip could not install schemathesis into $venv"
    fi
    echo "python: ok ($venv, nats-py $("$venv/bin/python3" -c 'import importlib.metadata as m; print(m.version("nats-py"))'))"
}

ensure_python_client

# ---------------------------------------------------------------- OpenID Provider
# The dev/test OpenID Provider (deploy/oidc: npm oidc-provider with our accounts and clients) on
# 127.0.0.1:8100, run as the invoking user from this checkout. Its dependencies are installed with
# `npm ci` when node_modules is missing or was installed from another package-lock.json. Only
# needs node (>= 20.19) and npm. Log .run/logs/oidc.log, pid .run/oidc.pid; `make stop` leaves it
# running, like NATS (stop it with: kill "$(cat .run/oidc.pid)").
OIDC_PORT=8100
OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT
OIDC_START_TIMEOUT=60

# oidc_answers: true when the discovery document of $OIDC_ISSUER names that issuer.
oidc_answers() {
    node -e '
        const [issuer] = process.argv.slice(1);
        fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2000) })
            .then((r) => (r.ok ? r.json() : {}))
            .then((d) => process.exit(d.issuer === issuer ? 0 : 1), () => process.exit(1));
    ' "$OIDC_ISSUER" 2>/dev/null
}

ensure_oidc() {
    local root dir run pidfile logfile
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    dir=$root/deploy/oidc
    run=$root/.run
    pidfile=$run/oidc.pid
    logfile=$run/logs/oidc.log

    command -v node >/dev/null 2>&1 || die "node not found: the OpenID Provider needs Node.js >= 20.19 and npm"
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
        die "node $(node --version) is too old: the OpenID Provider needs Node.js >= 20.19"

    # node_modules is current when it was installed from this package-lock.json. Installed even
    # when a provider already answers (started from another checkout): tests start providers of
    # their own from this one (mesh_tests::oidc::OidcServer), and token.js runs from it.
    local want have=""
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    [[ -f $dir/node_modules/.relief-lock-sha256 ]] && have=$(<"$dir/node_modules/.relief-lock-sha256")
    if [[ $want != "$have" ]]; then
        command -v npm >/dev/null 2>&1 || die "npm not found: needed to install deploy/oidc's dependencies"
        log "installing the OpenID Provider's dependencies (npm ci in deploy/oidc)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci failed in $dir"
        echo "$want" >"$dir/node_modules/.relief-lock-sha256"
    fi

    if oidc_answers; then
        echo "oidc: ok ($OIDC_ISSUER)"
        return 0
    fi
    if reachable 127.0.0.1 "$OIDC_PORT"; then
        die "something listens on 127.0.0.1:$OIDC_PORT but is not the OpenID Provider with issuer $OIDC_ISSUER"
    fi

    mkdir -p "$run/logs"
    log "starting the OpenID Provider on $OIDC_ISSUER (log $logfile)"
    OIDC_PORT=$OIDC_PORT OIDC_ISSUER=$OIDC_ISSUER \
        setsid nohup node "$dir/server.js" >>"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"

    local pid i
    pid=$(<"$pidfile")
    for ((i = 0; i < OIDC_START_TIMEOUT * 4; i++)); do
        oidc_answers && break
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "--- last lines of $logfile" >&2
            tail -n 20 "$logfile" >&2 || true
            die "the OpenID Provider exited while starting"
        fi
        sleep 0.25
    done
    if ! oidc_answers; then
        echo "--- last lines of $logfile" >&2
        tail -n 20 "$logfile" >&2 || true
        die "the OpenID Provider did not answer $OIDC_ISSUER/.well-known/openid-configuration within $OIDC_START_TIMEOUT s"
    fi
    echo "oidc: ok ($OIDC_ISSUER, started, pid $pid)"
}

ensure_oidc

# The staff page's end-to-end test drives Debian's Chromium, headless.
ensure_chromium() {
    if ! command -v chromium >/dev/null 2>&1; then
        apt_install chromium
    fi
    echo "chromium: ok ($(chromium --version 2>/dev/null | head -1))"
}

ensure_chromium
