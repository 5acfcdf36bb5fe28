#!/usr/bin/env bash
# Run the whole mesh locally from already-built debug binaries.
#   run-local.sh start   start every instance (skips ones already running), wait for /readyz
#                      (the bank simulator: /healthz)
#   run-local.sh stop    SIGTERM everything, SIGKILL leftovers after 20 s
#   run-local.sh status  one line per instance, and one for the OpenID Provider (ensure-infra.sh)
# State lives in .run/ at the repo root (logs in .run/logs, pids in .run/pids).
# The relief instances, one per department, come from deploy/departments.txt (name and port).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
BIN_DIR=$TARGET_DIR/debug
RUN_DIR=$ROOT/.run
LOG_DIR=$RUN_DIR/logs
PID_DIR=$RUN_DIR/pids

NATS_URL=nats://127.0.0.1:4222
PG_BASE=postgres://postgres@127.0.0.1:5432
READY_TIMEOUT=${RUN_LOCAL_READY_TIMEOUT:-90}
STOP_TIMEOUT=20

BANK_URL=http://127.0.0.1:8090

# name|binary|port|extra args|extra environment (KEY=VALUE …)|readiness path (default /readyz);
# the departments' relief instances are added from deploy/departments.txt below.
INSTANCES=(
    "intake|intake|8081|"
    "verification|verification|8082|"
    "monitoring|monitoring|8083|"
    "payment|payment|8084||RELIEF_PAYMENT__FUND_ACCOUNTS_FILE=$ROOT/deploy/config/fund-accounts.toml RELIEF_PAYMENT__BANK_URL=$BANK_URL"
    "source-simulator|source-simulator|8089|"
    "bank-simulator|bank-simulator|8090|||/healthz"
)

die() { echo "run-local: error: $*" >&2; exit 1; }

# One relief instance per department of deploy/departments.txt (`<name> <local port>` a line;
# `#` starts a comment).
DEPARTMENTS=$ROOT/deploy/departments.txt
[[ -r $DEPARTMENTS ]] || die "$DEPARTMENTS is missing"
while read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    read -r dept port extra <<<"$line" || true
    [[ -z ${dept:-} ]] && continue
    [[ $dept =~ ^[a-z][a-z0-9-]*$ && $port =~ ^[0-9]+$ && -z ${extra:-} ]] \
        || die "deploy/departments.txt: expected \`<name> <local port>\`, got: $line"
    INSTANCES+=("relief-$dept|relief|$port|--department $dept")
done <"$DEPARTMENTS"

# Two instances on one port would not both come up.
declare -A PORT_OWNER=()
for line in "${INSTANCES[@]}"; do
    IFS='|' read -r name _ port _ <<<"$line"
    [[ -z ${PORT_OWNER[$port]:-} ]] || die "port $port is both ${PORT_OWNER[$port]}'s and $name's (deploy/departments.txt)"
    PORT_OWNER[$port]=$name
done
unset PORT_OWNER

# split_instance LINE -> sets NAME BIN PORT ARGS ENVS PROBE
split_instance() {
    IFS='|' read -r NAME BIN PORT ARGS ENVS PROBE <<<"$1"
    PROBE=${PROBE:-/readyz}
}

pid_of() {
    local f=$PID_DIR/$1.pid
    [[ -f $f ]] || return 1
    local pid
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    echo "$pid"
}

alive() {
    kill -0 "$1" 2>/dev/null
}

ready_code() {
    # Prints the HTTP status of the readiness path $2 (default /readyz) on port $1 (000 when
    # unreachable).
    curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1${2:-/readyz}" 2>/dev/null || true
}

cmd_start() {
    command -v curl >/dev/null 2>&1 || die "curl is required"
    mkdir -p "$LOG_DIR" "$PID_DIR"

    local missing=() line
    for line in "${INSTANCES[@]}"; do
        split_instance "$line"
        [[ -x $BIN_DIR/$BIN ]] || missing+=("$BIN_DIR/$BIN")
    done
    if ((${#missing[@]})); then
        printf 'run-local: missing binary: %s\n' "${missing[@]}" | sort -u >&2
        die "build first: cargo build --workspace --bins (or make build)"
    fi

    for line in "${INSTANCES[@]}"; do
        split_instance "$line"
        local pid
        if pid=$(pid_of "$NAME") && alive "$pid"; then
            echo "$NAME: already running (pid $pid)"
            continue
        fi
        local db=relief_${NAME#relief-}; db=${db//-/_}
        local -a args=() envs=()
        # shellcheck disable=SC2206
        [[ -n $ARGS ]] && args=($ARGS)
        # shellcheck disable=SC2206
        [[ -n $ENVS ]] && envs=($ENVS)
        RELIEF_HTTP__PORT=$PORT \
        RELIEF_DATABASE__URL=$PG_BASE/$db \
        RELIEF_NATS__URL=$NATS_URL \
        RELIEF_SIMULATOR__FIXTURES_FILE=$ROOT/deploy/demo/sources.json \
            nohup env "${envs[@]}" "$BIN_DIR/$BIN" "${args[@]}" >>"$LOG_DIR/$NAME.log" 2>&1 </dev/null &
        echo $! >"$PID_DIR/$NAME.pid"
        echo "$NAME: started (pid $!, port $PORT, log .run/logs/$NAME.log)"
    done

    local deadline=$((SECONDS + READY_TIMEOUT))
    local -a pending=("${INSTANCES[@]}")
    while ((${#pending[@]})); do
        local -a still=()
        for line in "${pending[@]}"; do
            split_instance "$line"
            if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT$PROBE" 2>/dev/null; then
                echo "$NAME: ready"
                continue
            fi
            local pid=""
            if ! pid=$(pid_of "$NAME") || ! alive "$pid"; then
                echo "run-local: $NAME exited before becoming ready; last 30 lines of $LOG_DIR/$NAME.log:" >&2
                tail -n 30 "$LOG_DIR/$NAME.log" >&2 || true
                exit 1
            fi
            still+=("$line")
        done
        pending=("${still[@]+"${still[@]}"}")
        ((${#pending[@]})) || break
        if ((SECONDS >= deadline)); then
            echo "run-local: timed out after ${READY_TIMEOUT}s waiting for readiness of: $(for l in "${pending[@]}"; do split_instance "$l"; printf '%s ' "$NAME"; done)" >&2
            split_instance "${pending[0]}"
            echo "--- last 30 lines of $LOG_DIR/$NAME.log:" >&2
            tail -n 30 "$LOG_DIR/$NAME.log" >&2 || true
            exit 1
        fi
        sleep 1
    done
    echo "run-local: all ${#INSTANCES[@]} instances ready"
}

cmd_stop() {
    local line pid
    local -a pids=() names=()
    for line in "${INSTANCES[@]}"; do
        split_instance "$line"
        if pid=$(pid_of "$NAME") && alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$NAME")
            echo "$NAME: SIGTERM sent (pid $pid)"
        fi
    done

    local deadline=$((SECONDS + STOP_TIMEOUT)) any i
    while ((${#pids[@]})); do
        any=0
        for pid in "${pids[@]}"; do
            alive "$pid" && any=1
        done
        ((any)) || break
        ((SECONDS >= deadline)) && break
        sleep 1
    done
    for i in "${!pids[@]}"; do
        if alive "${pids[$i]}"; then
            echo "${names[$i]}: still alive after ${STOP_TIMEOUT}s, SIGKILL (pid ${pids[$i]})"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
    done

    for line in "${INSTANCES[@]}"; do
        split_instance "$line"
        rm -f "$PID_DIR/$NAME.pid"
    done
    echo "run-local: stopped"
}

cmd_status() {
    local line pid state code
    printf '%-20s %-6s %-8s %-5s %s\n' NAME PORT PID STATE READYZ
    for line in "${INSTANCES[@]}"; do
        split_instance "$line"
        if pid=$(pid_of "$NAME") && alive "$pid"; then
            state=up
        else
            pid=${pid:--}
            [[ -n $pid && $pid != - ]] && pid="$pid(dead)"
            state=down
        fi
        code=$(ready_code "$PORT" "$PROBE")
        case $code in
            200) code="200 ready" ;;
            000 | "") code="unreachable" ;;
            *) code="$code not ready" ;;
        esac
        printf '%-20s %-6s %-8s %-5s %s\n' "$NAME" "$PORT" "$pid" "$state" "$code"
    done
    # The dev/test OpenID Provider: started by ensure-infra.sh, left running by stop.
    pid=$(cat "$RUN_DIR/oidc.pid" 2>/dev/null) || pid=-
    if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
        state=up
    else
        state=down
        [[ $pid != - ]] && pid="$pid(dead)"
    fi
    case $(ready_code 8100 /.well-known/openid-configuration) in
        200) code="200 discovery" ;;
        000 | "") code="unreachable" ;;
        *) code="not answering discovery" ;;
    esac
    printf '%-20s %-6s %-8s %-5s %s\n' oidc 8100 "$pid" "$state" "$code"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
