#!/usr/bin/env bash
# The offline query data of the services whose SQL is checked at compile time
# (`sqlx::query!` and friends): services/<svc>/.sqlx, committed, so that a build needs no database.
#
#   deploy/scripts/sqlx-prepare.sh [svc...]           regenerate services/<svc>/.sqlx
#   deploy/scripts/sqlx-prepare.sh --check [svc...]   fail if services/<svc>/.sqlx is out of date
#
# For each service: a scratch database sqlx_prepare_<svc> on the local PostgreSQL, the mesh's
# migrations then the service's applied to it (as mesh::db::migrate does), `cargo sqlx prepare`
# in the service's directory against it, and the database dropped again. sqlx-cli 0.8 installs
# into ~/.cache/relief-mesh/tools on first use. PostgreSQL: SQLX_PREPARE_PG (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root="$PWD"

check=()
if [[ "${1:-}" == "--check" ]]; then
    check=(--check)
    shift
fi
services=("$@")
if [[ ${#services[@]} -eq 0 ]]; then
    services=(intake verification relief monitoring payment)
fi
server="${SQLX_PREPARE_PG:-postgres://postgres@127.0.0.1:5432}"

# sqlx-cli is kept per machine, outside the checkout (RELIEF_TOOLS overrides), so that a fresh
# clone (CI) does not build it again: installing it takes minutes on two cores.
SQLX_CLI_VERSION=0.8.6
tools="${RELIEF_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/relief-mesh/tools}/sqlx-cli-$SQLX_CLI_VERSION"
if [[ ! -x "$tools/bin/cargo-sqlx" ]]; then
    echo "== installing sqlx-cli $SQLX_CLI_VERSION into $tools"
    # Its own build directory, not the workspace's target/.
    env -u CARGO_TARGET_DIR cargo install --locked --root "$tools" sqlx-cli \
        --version "=$SQLX_CLI_VERSION" --no-default-features --features postgres,rustls
fi
export PATH="$tools/bin:$PATH"

current=""
drop_current() {
    if [[ -n "$current" ]]; then
        sqlx database drop -y --database-url "$current" >/dev/null 2>&1 || true
    fi
}
trap drop_current EXIT

for svc in "${services[@]}"; do
    if [[ ! -d "services/$svc/migrations" ]]; then
        echo "no services/$svc/migrations" >&2
        exit 2
    fi
    url="$server/sqlx_prepare_$svc"
    current="$url"
    echo "== $svc: scratch database sqlx_prepare_$svc"
    sqlx database drop -y --database-url "$url" >/dev/null 2>&1 || true
    sqlx database create --database-url "$url"
    # Mesh versions (1-999) and the service's (timestamps) share _sqlx_migrations.
    sqlx migrate run --ignore-missing --source shared/mesh/migrations --database-url "$url"
    sqlx migrate run --ignore-missing --source "services/$svc/migrations" --database-url "$url"
    echo "== $svc: cargo sqlx prepare ${check[*]}"
    (cd "services/$svc" && DATABASE_URL="$url" cargo sqlx prepare "${check[@]}" -- --all-targets)
    sqlx database drop -y --database-url "$url"
    current=""
done
