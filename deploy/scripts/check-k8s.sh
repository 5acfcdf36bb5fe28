#!/usr/bin/env bash
# Offline checks of the deployment files (`make check-deploy`):
#   0. the per-department parts of k8s/ match deploy/departments.txt
#      (deploy/scripts/gen-departments.sh --check)
#   1. hadolint deploy/Dockerfile (deploy/.hadolint.yaml)
#   2. the NATS and collector configurations: deploy/nats/auth.conf is the link to the one users
#      file, the collector's Kubernetes copy is identical to deploy/'s, nats-server -t accepts
#      both NATS configurations, the collector's pipeline is complete
#   3. every overlay in k8s/overlays rendered with `kubectl kustomize`, then
#      - kubernetes-validate --strict against the oldest and newest Kubernetes we support,
#      - references inside the render resolve (config maps, secrets, service accounts,
#        selectors, autoscaler targets),
#      - every department is complete: no placeholder of k8s/base/department left, its NATS user
#        and password key in auth.conf, its durable consumer in nats-bootstrap, its own
#        network policy, whose peers exist (e.g. its database's pods); a NATS password secret
#        in the render (dev) holds every password auth.conf reads,
#      - checkov --framework kubernetes --skip-download (k8s/.checkov.yaml lists each skipped
#        check with its reason).
# The tools live in .venv-k8s/ (deploy/requirements-check.txt); the first run installs them
# from PyPI, later runs need no network.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
VENV=$ROOT/.venv-k8s
REQS=$ROOT/deploy/requirements-check.txt
# The minimum Kubernetes version (lifecycle.preStop.sleep is on by default from 1.30) and the
# newest the installed schemas know.
K8S_VERSIONS=(1.30.0 1.37.0)

START=$SECONDS
step() { echo "== $* ($((SECONDS - START)) s)"; }
die() { echo "check-k8s: error: $*" >&2; exit 1; }

# ------------------------------------------------------------------ 0. departments
step "departments: gen-departments.sh --check"
bash deploy/scripts/gen-departments.sh --check \
    || die "k8s/ is stale against deploy/departments.txt: run deploy/scripts/gen-departments.sh"

# ------------------------------------------------------------------ tools
if ! cmp -s "$REQS" "$VENV/.requirements" 2>/dev/null; then
    step "installing the check tools into .venv-k8s (needs PyPI once)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$VENV/.requirements"
fi
command -v kubectl >/dev/null || die "kubectl is needed (for kubectl kustomize)"
PY=$VENV/bin/python

# ------------------------------------------------------------------ 1. Dockerfile
step "hadolint deploy/Dockerfile"
"$VENV/bin/hadolint" --version
"$VENV/bin/hadolint" --config deploy/.hadolint.yaml deploy/Dockerfile

# ------------------------------------------------------------------ 2. NATS and collector
step "configuration files"
# kustomize may not read files outside a kustomization's directory. The NATS users file lives in
# its component, k8s/components/nats/auth.conf, and deploy/nats/auth.conf (included by
# nats-server.conf, read by tests/tests/e2e/nats_permissions.rs) is a symbolic link to it. The
# collector component carries a copy of deploy/otel/collector.yaml, which must not drift.
AUTH=k8s/components/nats/auth.conf
[[ -L deploy/nats/auth.conf && $(readlink deploy/nats/auth.conf) == "../../$AUTH" ]] \
    || die "deploy/nats/auth.conf must be a symbolic link to $AUTH (edit that file; recreate the link with: ln -sfn ../../$AUTH deploy/nats/auth.conf)"
cmp deploy/otel/collector.yaml k8s/components/collector/collector.yaml \
    || die "k8s/components/collector/collector.yaml differs from deploy/otel/collector.yaml: copy it over"

NATS_SERVER=$(command -v nats-server || true)
[[ -z $NATS_SERVER && -x /usr/sbin/nats-server ]] && NATS_SERVER=/usr/sbin/nats-server
if [[ -n $NATS_SERVER ]]; then
    step "nats-server -t (both NATS configurations)"
    # Every password variable set to a dummy (the real ones are secrets); -t parses only.
    mapfile -t VARS < <(grep -o 'RELIEF_NATS_[A-Z_]*_PASSWORD' "$AUTH" | sort -u)
    NATS_ENV=(POD_NAME=relief-nats-0)
    for v in "${VARS[@]}"; do NATS_ENV+=("$v=pCheckOnly0"); done
    env "${NATS_ENV[@]}" "$NATS_SERVER" -t -c deploy/nats/nats-server.conf
    env "${NATS_ENV[@]}" "$NATS_SERVER" -t -c k8s/components/nats/nats.conf
else
    echo "nats-server not installed: NATS configurations not parsed (make infra installs it)"
fi

step "collector pipeline"
"$PY" - deploy/otel/collector.yaml <<'PYEOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
bad = []
for name, p in c["service"]["pipelines"].items():
    for kind in ("receivers", "processors", "exporters"):
        for comp in p.get(kind, []):
            if comp not in (c.get(kind) or {}):
                bad.append(f"pipeline {name}: {kind[:-1]} {comp} is not configured")
for ext in c["service"].get("extensions", []):
    if ext not in (c.get("extensions") or {}):
        bad.append(f"extension {ext} is not configured")
if bad:
    sys.exit("\n".join(bad))
print("collector: every pipeline component is configured")
PYEOF

# ------------------------------------------------------------------ 3. overlays
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
kubectl version --client 2>/dev/null | head -2
for overlay in k8s/overlays/*/; do
    name=$(basename "$overlay")
    step "overlay $name: kubectl kustomize"
    kubectl kustomize "$overlay" > "$OUT/$name.yaml"
    echo "$(grep -c '^kind:' "$OUT/$name.yaml") objects"

    # kubernetes-validate knows the built-in kinds only. The CloudNativePG `Cluster` (a CRD) is
    # left out here: its schema comes with the operator, which is not installed where this
    # runs; `kubectl apply --dry-run=server` against a cluster with the operator checks it.
    "$PY" - "$OUT/$name.yaml" "$OUT/$name.builtin.yaml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
builtin = [d for d in docs if not d["apiVersion"].startswith("postgresql.cnpg.io/")]
yaml.safe_dump_all(builtin, open(sys.argv[2], "w"), sort_keys=False)
if len(builtin) != len(docs):
    print(f"{len(docs) - len(builtin)} CloudNativePG objects left to the server-side dry run")
PYEOF
    for v in "${K8S_VERSIONS[@]}"; do
        step "overlay $name: kubernetes-validate --strict (Kubernetes $v)"
        "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "$OUT/$name.builtin.yaml"
    done

    step "overlay $name: references"
    "$PY" - "$OUT/$name.yaml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
have = {}
for d in docs:
    have.setdefault(d["kind"], set()).add(d["metadata"]["name"])
# Created outside the render, on purpose: in production the NATS passwords (k8s/README.md) and
# the database secrets CloudNativePG generates for each Cluster (<cluster>-app).
# (Where the render generates a secret, e.g. dev's relief-nats-users, kustomize has rewritten the
# references to its hashed name, which must then be in the render.)
# Keycloak's temporary administrator, keycloak-bootstrap-admin, is created by hand too.
external_secrets = ({"relief-nats-users", "keycloak-bootstrap-admin"}
                    | {c + "-app" for c in have.get("Cluster", set())})
errors = []

def need(kind, name, where):
    if name in have.get(kind, set()):
        return
    if kind == "Secret" and name in external_secrets:
        return
    errors.append(f"{where}: {kind} {name} is not in the render")

pods = []  # (owner, labels)
for d in docs:
    kind, name = d["kind"], d["metadata"]["name"]
    spec = d.get("spec") or {}
    tmpl = None
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        tmpl = spec["template"]
        sel = spec["selector"]["matchLabels"]
        labels = tmpl["metadata"].get("labels", {})
        if any(labels.get(k) != v for k, v in sel.items()):
            errors.append(f"{kind} {name}: selector does not match its pod template")
    elif kind == "Job":
        tmpl = spec["template"]
    if tmpl is None:
        continue
    pods.append((f"{kind} {name}", tmpl["metadata"].get("labels", {})))
    ps = tmpl["spec"]
    where = f"{kind} {name}"
    if ps.get("serviceAccountName"):
        need("ServiceAccount", ps["serviceAccountName"], where)
    for v in ps.get("volumes", []):
        if "configMap" in v:
            need("ConfigMap", v["configMap"]["name"], where)
        if "secret" in v:
            need("Secret", v["secret"]["secretName"], where)
    for c in ps.get("containers", []) + ps.get("initContainers", []):
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                need("ConfigMap", ef["configMapRef"]["name"], where)
            if "secretRef" in ef:
                need("Secret", ef["secretRef"]["name"], where)
        for e in c.get("env", []):
            vf = e.get("valueFrom", {})
            if "secretKeyRef" in vf:
                need("Secret", vf["secretKeyRef"]["name"], where)
                sec = next((s for s in docs if s["kind"] == "Secret" and s["metadata"]["name"] == vf["secretKeyRef"]["name"]), None)
                key = vf["secretKeyRef"]["key"]
                if sec is not None and key not in (sec.get("data") or {}) and key not in (sec.get("stringData") or {}):
                    errors.append(f"{where}: secret {sec['metadata']['name']} has no key {key}")
            if "configMapKeyRef" in vf:
                need("ConfigMap", vf["configMapKeyRef"]["name"], where)

def selects(sel):
    return [o for o, labels in pods if all(labels.get(k) == v for k, v in sel.items())]

for d in docs:
    kind, name, spec = d["kind"], d["metadata"]["name"], d.get("spec") or {}
    if kind == "Service" and spec.get("selector") and not selects(spec["selector"]):
        errors.append(f"Service {name}: selects no pod")
    if kind == "PodDisruptionBudget" and not selects(spec["selector"]["matchLabels"]):
        errors.append(f"PodDisruptionBudget {name}: selects no pod")
    if kind == "HorizontalPodAutoscaler":
        need(spec["scaleTargetRef"]["kind"], spec["scaleTargetRef"]["name"], f"HorizontalPodAutoscaler {name}")
    if kind == "NetworkPolicy":
        ml = (spec.get("podSelector") or {}).get("matchLabels")
        if ml and not selects(ml):
            errors.append(f"NetworkPolicy {name}: applies to no pod")
if errors:
    sys.exit("\n".join(errors))
print(f"{len(pods)} pod templates: every reference resolves")
PYEOF

    step "overlay $name: departments and network policies"
    "$PY" - "$OUT/$name.yaml" "$AUTH" <<'PYEOF'
import re, sys, yaml
text = open(sys.argv[1]).read()
docs = [d for d in yaml.safe_load_all(text) if d]
# user -> password variable, from `{ user: X, password: $VAR` in auth.conf
users = dict(re.findall(r"\{\s*user:\s*([\w-]+),\s*password:\s*\$(\w+)", open(sys.argv[2]).read()))
errors = []

# k8s/base/department's placeholder, replaced by set-department/ in every department.
for n, line in enumerate(text.splitlines(), 1):
    if re.search(r"(?<![A-Za-z])DEPT(?![A-Za-z])", line):
        errors.append(f"line {n} of the render still holds the placeholder DEPT: {line.strip()}")

# Where the render carries the NATS passwords (dev generates them), one for every user: the
# NATS pods read them all, and nats-server does not start without each variable auth.conf names.
for d in docs:
    if d["kind"] == "Secret" and d["metadata"]["name"].startswith("relief-nats-users"):
        have = set(d.get("data") or {}) | set(d.get("stringData") or {})
        for var in sorted(set(users.values()) - have):
            errors.append(f"Secret {d['metadata']['name']}: no key {var}, which auth.conf reads")

def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}

bootstrap = next((d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "nats-bootstrap"), None)
consumers = None
if bootstrap is not None:
    script = "\n".join(bootstrap["spec"]["template"]["spec"]["containers"][0]["args"])
    m = re.search(r"for dept in ([^;]+);", script)
    consumers = m.group(1).split() if m else []

departments = []
for d in docs:
    if d["kind"] != "Deployment":
        continue
    name = d["metadata"]["name"]
    for c in d["spec"]["template"]["spec"]["containers"]:
        args = c.get("args", [])
        if "--department" not in args:
            continue
        dept = args[args.index("--department") + 1]
        departments.append(dept)
        env = env_of(c)
        user = env.get("RELIEF_NATS__USER", {}).get("value")
        key = env.get("RELIEF_NATS__PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("key")
        if user not in users:
            errors.append(f"Deployment {name}: NATS user {user} is not in auth.conf")
        elif users[user] != key:
            errors.append(f"Deployment {name}: NATS password key {key}, but auth.conf reads ${users[user]} for {user}")
        if dept not in users:
            errors.append(f"department {dept}: its own system's NATS user {dept} is not in auth.conf")
        if consumers is not None and dept not in consumers:
            errors.append(f"department {dept}: Job nats-bootstrap does not create its consumer department-{dept}")
if consumers is not None:
    for dept in consumers:
        if dept not in departments:
            errors.append(f"Job nats-bootstrap creates department-{dept}, but no Deployment runs --department {dept}")

# Under default-deny, every workload needs a policy of its own, and each pod a policy names as a
# peer must exist: a pod template, or the pods CloudNativePG makes of a Cluster.
pods = []
for d in docs:
    spec = d.get("spec") or {}
    if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        pods.append((f"{d['kind']} {d['metadata']['name']}", spec["template"]["metadata"].get("labels", {})))
    elif d["kind"] == "Cluster" and d["apiVersion"].startswith("postgresql.cnpg.io/"):
        labels = dict((spec.get("inheritedMetadata") or {}).get("labels") or {})
        labels["cnpg.io/cluster"] = d["metadata"]["name"]
        pods.append((f"Cluster {d['metadata']['name']}", labels))

def selects(ml):
    return [o for o, labels in pods if all(labels.get(k) == v for k, v in ml.items())]

policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
if any(p["metadata"]["name"] == "default-deny" for p in policies):
    own = [(p["spec"].get("podSelector") or {}).get("matchLabels") for p in policies]
    for owner, labels in pods:
        if owner.startswith("Cluster "):
            continue  # database-cnpg's policy selects them by expression
        if not any(ml and all(labels.get(k) == v for k, v in ml.items()) for ml in own):
            errors.append(f"{owner}: no NetworkPolicy of its own (default-deny is in force)")
for p in policies:
    for direction, side in (("ingress", "from"), ("egress", "to")):
        for rule in p["spec"].get(direction) or []:
            for peer in rule.get(side) or []:
                ml = (peer.get("podSelector") or {}).get("matchLabels")
                if ml and "namespaceSelector" not in peer and not selects(ml):
                    errors.append(f"NetworkPolicy {p['metadata']['name']}: {direction} peer {ml} matches no pod")
if errors:
    sys.exit("\n".join(errors))
print(f"{len(departments)} departments complete, {len(policies)} network policies with existing peers")
PYEOF

    step "overlay $name: checkov"
    "$VENV/bin/checkov" --config-file k8s/.checkov.yaml --file "$OUT/$name.yaml"
done

step "all deployment checks passed"
