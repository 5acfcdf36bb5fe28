#!/usr/bin/env bash
# Validates the two contract documents with their ecosystems' own validators (`make check-docs`):
#   docs/openapi.yaml   openapi-spec-validator (PyPI), as a YAML 1.1 reader would load it
#   docs/asyncapi.yaml  @asyncapi/parser (npm), the AsyncAPI Initiative's parser
# The tools install on first use into .venv-docs/ and deploy/docs-check/node_modules/ (both
# ignored by git), pinned; afterwards the check needs no network.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root="$PWD"
venv="$root/.venv-docs"

if [[ ! -x $venv/bin/openapi-spec-validator ]]; then
    echo "== installing openapi-spec-validator into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.7.2' 'PyYAML==6.0.3'
fi
if [[ ! -d deploy/docs-check/node_modules/@asyncapi/parser ]]; then
    echo "== installing @asyncapi/parser into deploy/docs-check/node_modules"
    (cd deploy/docs-check && npm install --no-audit --no-fund --loglevel=error)
fi

echo "== docs/openapi.yaml: openapi-spec-validator"
"$venv/bin/openapi-spec-validator" docs/openapi.yaml
# PyYAML reads YAML 1.1, where a bare on/off/yes/no is a boolean: a parameter named on must be
# quoted, or such readers see `name: true`.
"$venv/bin/python3" - docs/openapi.yaml <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
bad = []
def walk(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                bad.append(f"{path}: key {k!r} is not a string")
            if k == "name" and "in" in node and not isinstance(v, str):
                bad.append(f"{path}.name: {v!r} is not a string")
            walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, f"{path}[{i}]")
walk(doc, "$")
if bad:
    print("\n".join(bad))
    sys.exit(1)
print(f"{sys.argv[1]}: every key and name reads as a string under YAML 1.1")
PY

echo "== docs/asyncapi.yaml: @asyncapi/parser"
node deploy/docs-check/validate-asyncapi.mjs docs/asyncapi.yaml
