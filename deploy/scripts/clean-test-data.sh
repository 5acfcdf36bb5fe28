#!/usr/bin/env bash
# Removes what end-to-end tests leave behind when one fails before its teardown: databases and
# JetStream streams named by a test prefix (t<12 hex>_… / T<12 HEX>_…). Never touches the
# local mesh's own relief_* databases or RELIEF_* streams.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PSQL=(psql -h 127.0.0.1 -U postgres -At)

dbs=$("${PSQL[@]}" -c "SELECT datname FROM pg_database WHERE datname ~ '^t[0-9a-f]{12}_'")
n=0
for db in $dbs; do
    "${PSQL[@]}" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
    n=$((n + 1))
done
echo "clean-test-data: $n test databases dropped"

"$ROOT/.venv-tests/bin/python3" - <<'PY'
import asyncio, re, nats

async def main():
    nc = await nats.connect("nats://127.0.0.1:4222")
    js = nc.jetstream()
    names = [s.config.name for s in await js.streams_info()]
    test = [n for n in names if re.match(r"^T[0-9A-F]{12}_", n)]
    for n in test:
        await js.delete_stream(n)
    print(f"clean-test-data: {len(test)} test streams deleted")
    await nc.close()

asyncio.run(main())
PY
