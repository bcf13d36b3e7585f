#!/usr/bin/env python3
"""Controller benchmarks: our sealed-secrets-controller next to upstream's v0.36.6 on one API server.

Started by bench/controller.sh (which builds and finds the binaries); see docs/performance.md.

One control plane (tests/cluster/up) for the whole run. Each controller has its own namespace
(its key namespace, and the only one it watches: --all-namespaces=false), runs "in a pod" as a
ServiceAccount with upstream's RBAC (tests/cluster/in-cluster-env), with the same flags, and
is never running while the other one is measured. Both load the same pre-made RSA-4096 key
Secret, so neither generates a key during a measurement.

Scenarios, each alternating ours / upstream (the order flips every round):
  cold     N_COLD new SealedSecrets with 3 items each created at once by a concurrent client:
           time until every Secret exists (watched), controller CPU seconds, RSA decryptions.
  backlog  the same N_COLD objects created while the controller is stopped, then it starts:
           time from its exec to every Secret (its throughput without the creates competing
           for the 2 cores), CPU seconds, RSA decryptions.
  restart  N_BIG SealedSecrets already unsealed: start the controller, time to "ready" (ours:
           /readyz 200, its watch caches synced; upstream v0.36.6 has no /readyz: /healthz 200)
           and until its CPU use falls silent ("idle"), RSA decryptions done.
  steady   right after the restart, on the same process: RSS and CPU while idle with N_BIG
           objects, then RATE updates/s (each replaces a SealedSecret's 3 ciphertexts) for
           DURATION s: latency from sending the update to the Secret's watch event, RSS, CPU.

Sides (--sides, default ours,upstream): "ours", "upstream", and "pkcs11": our controller with
its key in a kryoptic PKCS#11 token (--pkcs11-module; the token is initialised here with
pkcs11-tool, the key generated in it by the controller's first start, and that side's objects
sealed for its certificate), for the cold figure side by side with in-memory keys.

RSA decryptions: ours from its counter metric; upstream has none, so it is derived from
sealed_secrets_controller_unseal_requests_total x 3 (each unseal decrypts every item once
with the one key it has), and marked as such.
"""

import argparse
import base64
import http.client
import json
import os
import queue
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

ITEMS = 3
SA = "sealed-secrets-controller"
SS_PATH = "/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets"
SECRET_PATH = "/api/v1/namespaces/{ns}/secrets"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class ApiError(Exception):
    pass


class Api:
    """A tiny client for the harness's API server (admin client certificate), one
    keep-alive connection per thread."""

    def __init__(self, cluster_dir):
        env = {}
        with open(os.path.join(cluster_dir, "cluster.env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v
        self.port = int(env["APISERVER_PORT"])
        pki = os.path.join(cluster_dir, "pki")
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.local = threading.local()

    def _conn(self, fresh=False):
        if fresh or getattr(self.local, "conn", None) is None:
            self.local.conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.ctx, timeout=120
            )
        return self.local.conn

    def request(self, method, path, body=None, ctype="application/json", ok=(200, 201, 202)):
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(5):
            conn = self._conn(fresh=attempt > 0)
            try:
                headers = {"Accept": "application/json"}
                if data is not None:
                    headers["Content-Type"] = ctype
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
                continue
            if resp.status == 429 or resp.status >= 500:
                time.sleep(0.2 * (attempt + 1))
                continue
            if resp.status not in ok:
                raise ApiError(f"{method} {path}: HTTP {resp.status}: {raw[:300]!r}")
            return json.loads(raw) if raw else None
        raise ApiError(f"{method} {path}: gave up after retries")

    def count(self, path, selector=""):
        """Number of objects at a list path (one page of 500 at a time, metadata only)."""
        n, cont = 0, ""
        while True:
            q = f"?limit=500{selector}" + (f"&continue={cont}" if cont else "")
            out = self.request("GET", path + q)
            n += len(out.get("items", []))
            cont = out.get("metadata", {}).get("continue", "")
            if not cont:
                return n

    def resource_version(self, path):
        return self.request("GET", path + "?limit=1")["metadata"]["resourceVersion"]


class Watcher(threading.Thread):
    """Watches a namespace's Opaque Secrets from a resourceVersion; records, per name, the
    monotonic times of its ADDED/MODIFIED events."""

    def __init__(self, api, ns, rv):
        super().__init__(daemon=True)
        self.api, self.ns, self.rv = api, ns, rv
        self.cond = threading.Condition()
        self.times = {}  # name -> [t, ...]
        self.stopped = False
        self.error = None

    def run(self):
        try:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.api.port, context=self.api.ctx, timeout=3600
            )
            path = (
                SECRET_PATH.format(ns=self.ns)
                + f"?watch=1&resourceVersion={self.rv}&fieldSelector=type%3DOpaque"
                + "&timeoutSeconds=3600"
            )
            conn.request("GET", path, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise ApiError(f"watch: HTTP {resp.status}")
            self.resp = resp
            while not self.stopped:
                line = resp.readline()
                if not line:
                    break
                t = time.monotonic()
                ev = json.loads(line)
                if ev.get("type") not in ("ADDED", "MODIFIED"):
                    continue
                name = ev["object"]["metadata"]["name"]
                with self.cond:
                    self.times.setdefault(name, []).append(t)
                    self.cond.notify_all()
        except Exception as e:  # noqa: BLE001 - reported by wait_*
            if not self.stopped:
                self.error = e
                with self.cond:
                    self.cond.notify_all()

    def stop(self):
        self.stopped = True
        try:
            self.resp.fp.raw._sock.shutdown(socket.SHUT_RDWR)  # unblock readline
        except Exception:  # noqa: BLE001
            pass

    def wait_names(self, n, timeout):
        """Waits until n distinct names were seen; returns the time the n-th appeared."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.times) < n:
                if self.error:
                    raise ApiError(f"watch failed: {self.error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ApiError(f"timeout: {len(self.times)} of {n} Secrets after {timeout} s")
                self.cond.wait(min(left, 1.0))
            return sorted(ts[0] for ts in self.times.values())[n - 1]

    def first_after(self, name, t):
        with self.cond:
            for x in self.times.get(name, []):
                if x >= t:
                    return x
        return None


class Controller:
    """One controller process "in a pod"; sampled through /proc."""

    def __init__(self, args, kind, ns, logdir, extra_args=(), extra_env=None):
        self.args, self.kind, self.ns = args, kind, ns
        self.bin = args.upstream_bin if kind == "upstream" else args.ours_bin
        self.log_path = os.path.join(logdir, f"{kind}.log")
        self.proc = None
        self.extra_args, self.extra_env = list(extra_args), dict(extra_env or {})
        self.base_args = list(extra_args)

    def start(self):
        self.port, self.metrics_port = free_port(), free_port()
        cmd = [
            os.path.join(self.args.repo, "tests/cluster/in-cluster-env"),
            self.args.cluster_dir, self.ns, SA, "--", self.bin,
            "--all-namespaces=false",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--listen-metrics-addr=127.0.0.1:{self.metrics_port}",
            *self.args.controller_args.split(),
            *self.extra_args,
        ]
        out = open(self.log_path, "ab")
        out.write(f"\n=== start {time.strftime('%H:%M:%S')}: {' '.join(cmd)}\n".encode())
        out.flush()
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     env={**os.environ, **self.extra_env})
        out.close()
        self.pid = self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def mem_kib(self):
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out["VmRSS"], out["VmHWM"]

    def http(self, port, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            return None, ""

    def ready(self):
        path = "/healthz" if self.kind == "upstream" else "/readyz"
        return self.http(self.port, path)[0] == 200

    def metrics(self):
        _, text = self.http(self.metrics_port, "/metrics")
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def rsa_ops(self):
        """(count, how): RSA private-key decryptions so far."""
        m = self.metrics()
        if self.kind != "upstream":
            for name in ("sealed_secrets_rs_rsa_decryptions_total",
                         "sealed_secrets_controller_rsa_decrypt_operations_total"):
                if name in m:
                    return int(m[name]), name
            found = [k for k in m if "rsa" in k]
            if found:
                return int(m[found[0]]), found[0]
        return int(m.get("sealed_secrets_controller_unseal_requests_total", 0)) * ITEMS, \
            f"unseal_requests_total x {ITEMS}"

    def wait_exec(self, timeout=60):
        """Waits until in-cluster-env has exec'd the controller (same pid); records the time
        and the CPU used so far (the launcher's), so that start-up is measured from there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ApiError(f"{self.kind} controller exited; see {self.log_path}")
            try:
                exe = os.readlink(f"/proc/{self.pid}/exe")
            except OSError:
                exe = ""
            if os.path.basename(exe) == os.path.basename(self.bin):
                self.t_exec, self.cpu_exec = time.monotonic(), self.cpu()
                return self.t_exec
            time.sleep(0.005)
        raise ApiError(f"{self.kind} controller did not start in {timeout} s")

    def wait_ready(self, timeout=120):
        self.wait_exec()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ApiError(f"{self.kind} controller exited; see {self.log_path}")
            if self.ready():
                return time.monotonic()
            time.sleep(0.02)
        raise ApiError(f"{self.kind} controller not ready after {timeout} s")

    def wait_idle(self, timeout, window=2.0, quiet=0.04, step=0.1):
        """Returns the start of the first `window` seconds in which the process used less than
        `quiet` CPU seconds (sampled every `step`)."""
        samples = []  # (t, cpu)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ApiError(f"{self.kind} controller exited; see {self.log_path}")
            t, c = time.monotonic(), self.cpu()
            samples.append((t, c))
            # the newest sample at least `window` before now
            old = [s for s in samples if s[0] <= t - window]
            if old and c - old[-1][1] < quiet:
                return old[-1][0]
            time.sleep(step)
        raise ApiError(f"{self.kind} controller not idle after {timeout} s")

    def stop(self):
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_parallel(fn, items, threads):
    q = queue.Queue()
    for it in items:
        q.put(it)
    errors = []

    def worker():
        while True:
            try:
                it = q.get_nowait()
            except queue.Empty:
                return
            try:
                fn(it)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
                return

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def kubectl(args, kubeconfig, stdin=None):
    subprocess.run(["kubectl", *args], input=stdin, env={**os.environ, "KUBECONFIG": kubeconfig},
                   check=True, stdout=subprocess.DEVNULL, text=True)


def rbac(ns):
    return f"""apiVersion: v1
kind: ServiceAccount
metadata: {{name: {SA}, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {ns}-secrets-unsealer}}
rules:
- {{apiGroups: [bitnami.com], resources: [sealedsecrets], verbs: [get, list, watch]}}
- {{apiGroups: [bitnami.com], resources: [sealedsecrets/status], verbs: [update]}}
- {{apiGroups: [""], resources: [secrets], verbs: [get, list, create, update, delete, watch]}}
- {{apiGroups: [""], resources: [events], verbs: [create, patch]}}
- {{apiGroups: [""], resources: [namespaces], verbs: [get]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {ns}-secrets-unsealer}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {ns}-secrets-unsealer}}
subjects: [{{kind: ServiceAccount, name: {SA}, namespace: {ns}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: sealed-secrets-key-admin, namespace: {ns}}}
rules: [{{apiGroups: [""], resources: [secrets], verbs: [create, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sealed-secrets-key-admin, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: sealed-secrets-key-admin}}
subjects: [{{kind: ServiceAccount, name: {SA}, namespace: {ns}}}]
"""


def seal_all(args, cert, ns, names, variant):
    """SealedSecrets (dicts) for names in ns, 3 items each, strict scope, sealed by kubeseal-rs
    (one process per 20,000)."""
    docs = []
    for i, name in enumerate(names):
        docs.append(json.dumps({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "stringData": {
                "username": f"user-{i}",
                "password": f"pw-{variant}-{i}-{os.urandom(8).hex()}",
                "url": f"postgres://db-{i}.{ns}.svc:5432/app",
            },
        }))
    # In chunks: kubeseal-rs reads at most 16 MiB from stdin (its input budget).
    out = "".join(
        subprocess.run([args.kubeseal_rs, "--cert", cert, "-o", "json"],
                       input="\n".join(docs[i:i + 20000]), capture_output=True, text=True,
                       check=True).stdout
        for i in range(0, len(docs), 20000))
    dec, pos, objs = json.JSONDecoder(), 0, []
    while True:
        while pos < len(out) and out[pos].isspace():
            pos += 1
        if pos >= len(out):
            break
        obj, pos = dec.raw_decode(out, pos)
        objs.append(obj)
    if len(objs) != len(names):
        raise ApiError(f"sealed {len(objs)} of {len(names)}")
    return objs


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


class Bench:
    def __init__(self, args):
        self.args = args
        self.api = Api(args.cluster_dir)
        self.kubeconfig = os.path.join(args.cluster_dir, "kubeconfig")
        self.results = {}  # (scenario, metric, kind) -> [values]
        self.tags = {}  # --ours-variants: "ours [ARGS]" kinds, in order
        self.notes = {}

    def record(self, scenario, metric, kind, value, tag=None):
        self.results.setdefault((scenario, metric, kind), []).append(value)
        if tag:
            self.results.setdefault((scenario, metric, tag), []).append(value)
            self.tags.setdefault(tag, None)

    # --- setup ---------------------------------------------------------------------------

    def setup(self):
        a = self.args
        kubectl(["apply", "-f", os.path.join(a.repo, "crds/bitnami.com_sealedsecrets.yaml")],
                self.kubeconfig)
        kubectl(["wait", "--for=condition=Established", "--timeout=60s",
                 "crd/sealedsecrets.bitnami.com"], self.kubeconfig)
        key = json.loads(subprocess.run(
            [a.kubeseal_rs, "keygen", "-o", "json", "--cert-out", os.path.join(a.work, "cert.pem")],
            capture_output=True, text=True, check=True).stdout)
        self.sides = {}
        for kind in a.sides.split(","):
            ns = f"bench-{kind}"
            self.api.request("POST", "/api/v1/namespaces",
                             {"metadata": {"name": ns}}, ok=(201, 409))
            kubectl(["apply", "-f", "-"], self.kubeconfig, stdin=rbac(ns))
            if kind == "pkcs11":
                self.sides[kind] = self.setup_token(ns)
                continue
            k = json.loads(json.dumps(key))
            k["metadata"].pop("generateName", None)
            k["metadata"]["name"] = "sealed-secrets-key-bench"
            k["metadata"]["namespace"] = ns
            self.api.request("POST", SECRET_PATH.format(ns=ns), k, ok=(201, 409))
            self.sides[kind] = {"ns": ns, "ctl": Controller(a, kind, ns, a.work),
                                "cert": os.path.join(a.work, "cert.pem")}
        if a.n_unrelated:
            t = time.monotonic()
            for side in self.sides.values():
                self.create_unrelated(side["ns"])
            log(f"created {a.n_unrelated} unrelated Secrets of {a.unrelated_bytes} B in each "
                f"namespace in {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        n_upd = min(a.n_big, max(a.rounds, a.restart_rounds) * int(a.rate * a.duration))
        for kind, side in self.sides.items():
            ns, cert = side["ns"], side["cert"]
            side["cold"] = seal_all(a, cert, ns, [f"cold-{i:05d}" for i in range(a.n_cold)], "a")
            side["big"] = seal_all(a, cert, ns, [f"obj-{i:05d}" for i in range(a.n_big)], "a")
            alt = seal_all(a, cert, ns, [f"obj-{i:05d}" for i in range(n_upd)], "b")
            side["variants"] = [
                (side["big"][i]["spec"]["encryptedData"], alt[i]["spec"]["encryptedData"])
                for i in range(n_upd)
            ]
            side["state"] = [0] * n_upd
        log(f"sealed {2 * (a.n_cold + a.n_big + n_upd)} SealedSecrets in "
            f"{time.monotonic() - t:.1f} s (kubeseal-rs, one process per set)")

    def setup_token(self, ns):
        """A fresh kryoptic token (pkcs11-tool from Debian's opensc), the controller started
        once to generate its key there, and the certificate it serves."""
        a = self.args
        if not a.pkcs11_module:
            raise ApiError("the pkcs11 side needs --pkcs11-module")
        tok = os.path.join(a.work, "token")
        os.makedirs(tok, exist_ok=True)
        conf = os.path.join(tok, "kryoptic.conf")
        with open(conf, "w") as f:
            f.write(f'[[slots]]\nslot = 1\ndbtype = "sqlite"\ndbargs = "{tok}/token.sql"\n')
        env = {**os.environ, "KRYOPTIC_CONF": conf}
        tool = ["pkcs11-tool", "--module", a.pkcs11_module]
        subprocess.run([*tool, "--init-token", "--label", "bench", "--so-pin", "bench-so-1"],
                       env=env, check=True, capture_output=True)
        subprocess.run([*tool, "--token-label", "bench", "--login", "--login-type", "so",
                        "--so-pin", "bench-so-1", "--init-pin", "--pin", "bench-user-1"],
                       env=env, check=True, capture_output=True)
        pin = os.path.join(tok, "pin")
        with open(pin, "w") as f:
            f.write("bench-user-1\n")
        ctl = Controller(a, "pkcs11", ns, a.work,
                         extra_args=["--pkcs11-module", a.pkcs11_module,
                                     "--pkcs11-token-label", "bench", "--pkcs11-pin-file", pin],
                         extra_env={"KRYOPTIC_CONF": conf})
        ctl.start()
        ctl.wait_ready()
        status, pem = ctl.http(ctl.port, "/v1/cert.pem")
        ctl.stop()
        if status != 200:
            raise ApiError(f"pkcs11 controller served no certificate; see {ctl.log_path}")
        cert = os.path.join(a.work, "cert-pkcs11.pem")
        with open(cert, "w") as f:
            f.write(pem)
        log(f"token initialised, key generated in it; certificate in {cert}")
        return {"ns": ns, "ctl": ctl, "cert": cert}

    # --- helpers -------------------------------------------------------------------------

    def clean(self, ns):
        self.api.request("DELETE", SS_PATH.format(ns=ns))
        self.api.request("DELETE", SECRET_PATH.format(ns=ns) + "?fieldSelector=type%3DOpaque")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if (self.api.count(SS_PATH.format(ns=ns)) == 0 and
                    self.api.count(SECRET_PATH.format(ns=ns), "&fieldSelector=type%3DOpaque") == 0):
                return
            time.sleep(0.5)
        raise ApiError(f"{ns} not empty after 300 s")

    def create_unrelated(self, ns):
        """Secrets no SealedSecret owns, as every real cluster has (here: Helm release
        Secrets, type helm.sh/release.v1, which clean() leaves alone)."""
        a = self.args
        blob = base64.b64encode(os.urandom(a.unrelated_bytes)).decode()
        objs = [{
            "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": f"sh.helm.release.v1.app-{i:05d}.v1",
                         "labels": {"owner": "helm", "name": f"app-{i:05d}",
                                    "status": "deployed", "version": "1"}},
            "data": {"release": blob},
        } for i in range(a.n_unrelated)]
        path = SECRET_PATH.format(ns=ns)
        run_parallel(lambda o: self.api.request("POST", path, o, ok=(201, 409)), objs,
                     a.threads)

    def create(self, ns, objs):
        path = SS_PATH.format(ns=ns)
        run_parallel(lambda o: self.api.request("POST", path, o), objs, self.args.threads)

    def watch(self, ns):
        w = Watcher(self.api, ns, self.api.resource_version(SECRET_PATH.format(ns=ns)))
        w.start()
        return w

    def order(self, r):
        kinds = self.args.sides.split(",")
        return kinds if r % 2 == 0 else kinds[::-1]

    # --- scenario 3: cold ----------------------------------------------------------------

    def cold(self):
        a = self.args
        for r in range(a.rounds):
            for kind in self.order(r):
                side, ctl = self.sides[kind], self.sides[kind]["ctl"]
                self.clean(side["ns"])
                ctl.start()
                ctl.wait_ready()
                ctl.wait_idle(60)
                w = self.watch(side["ns"])
                cpu0, (rsa0, how) = ctl.cpu(), ctl.rsa_ops()
                t0 = time.monotonic()
                self.create(side["ns"], side["cold"])
                t_created = time.monotonic()
                t_done = w.wait_names(a.n_cold, a.timeout)
                w.stop()
                ctl.wait_idle(120)
                cpu1, (rsa1, how) = ctl.cpu(), ctl.rsa_ops()
                rss, hwm = ctl.mem_kib()
                ctl.stop()
                self.notes[("rsa", kind)] = how
                self.record("cold", "all Secrets (s)", kind, t_done - t0)
                self.record("cold", "create calls (s)", kind, t_created - t0)
                self.record("cold", "CPU (s)", kind, cpu1 - cpu0)
                self.record("cold", "RSA decryptions", kind, rsa1 - rsa0)
                self.record("cold", "peak RSS (MiB)", kind, hwm / 1024)
                log(f"cold round {r + 1} {kind}: {t_done - t0:.2f} s to all {a.n_cold} Secrets "
                    f"(creates took {t_created - t0:.2f} s), CPU {cpu1 - cpu0:.2f} s, "
                    f"RSA {rsa1 - rsa0} ({how}), peak RSS {hwm / 1024:.1f} MiB")
        for kind in self.sides:
            self.clean(self.sides[kind]["ns"])

    def backlog(self):
        """Cold, without the API server in the way: the N_COLD SealedSecrets are created while
        the controller is stopped; then it starts. Time from its exec to every Secret."""
        a = self.args
        for r in range(a.rounds):
            for kind in self.order(r):
                side, ctl = self.sides[kind], self.sides[kind]["ctl"]
                self.clean(side["ns"])
                w = self.watch(side["ns"])
                self.create(side["ns"], side["cold"])
                ctl.start()
                ctl.wait_exec()
                t_done = w.wait_names(a.n_cold, a.timeout)
                w.stop()
                cpu_done = ctl.cpu() - ctl.cpu_exec
                ctl.wait_idle(120)
                rsa, how = ctl.rsa_ops()
                _, hwm = ctl.mem_kib()
                ctl.stop()
                self.record("backlog", "all Secrets (s)", kind, t_done - ctl.t_exec)
                self.record("backlog", "CPU to all Secrets (s)", kind, cpu_done)
                self.record("backlog", "RSA decryptions", kind, rsa)
                self.record("backlog", "peak RSS (MiB)", kind, hwm / 1024)
                log(f"backlog round {r + 1} {kind}: {t_done - ctl.t_exec:.2f} s to all "
                    f"{a.n_cold} Secrets, CPU {cpu_done:.2f} s, RSA {rsa}, peak RSS "
                    f"{hwm / 1024:.1f} MiB")
        for kind in self.sides:
            self.clean(self.sides[kind]["ns"])

    # --- populate N_BIG, then scenarios 4 + 5 --------------------------------------------

    def populate(self):
        a = self.args
        for kind in self.order(0):
            side, ctl = self.sides[kind], self.sides[kind]["ctl"]
            self.clean(side["ns"])
            ctl.start()
            ctl.wait_ready()
            ctl.wait_idle(60)
            w = self.watch(side["ns"])
            cpu0 = ctl.cpu()
            rsa0 = ctl.rsa_ops()[0]
            t0 = time.monotonic()
            self.create(side["ns"], side["big"])
            t_created = time.monotonic()
            t_done = w.wait_names(a.n_big, a.timeout * max(1, a.n_big // max(a.n_cold, 1)))
            w.stop()
            ctl.wait_idle(600)
            cpu = ctl.cpu() - cpu0
            rsa = ctl.rsa_ops()[0] - rsa0
            ctl.stop()
            self.record("populate", "all Secrets (s)", kind, t_done - t0)
            self.record("populate", "CPU (s)", kind, cpu)
            self.record("populate", "RSA decryptions", kind, rsa)
            log(f"populated {a.n_big} for {kind}: creates {t_created - t0:.1f} s, all Secrets "
                f"{t_done - t0:.1f} s, controller CPU {cpu:.1f} s, RSA {rsa}")

    def restart_and_steady(self):
        a = self.args
        per_round = int(a.rate * a.duration)
        for r in range(a.restart_rounds or a.rounds):
            for kind in self.order(r):
                side, ctl = self.sides[kind], self.sides[kind]["ctl"]
                tag = None
                if kind == "ours" and a.ours_variants:
                    # --ours-variants: this round's extra controller arguments.
                    variants = a.ours_variants.split(";")
                    variant = variants[r % len(variants)].strip()
                    tag = f"ours [{variant or 'default'}]"
                    ctl.extra_args = ctl.base_args + variant.split()
                    log(f"restart round {r + 1} ours: extra arguments '{variant}'")
                # scenario 4: restart
                ctl.start()
                t_ready = ctl.wait_ready(300)
                t_idle = ctl.wait_idle(a.timeout * 10)
                rsa, how = ctl.rsa_ops()
                cpu_start = ctl.cpu() - ctl.cpu_exec
                self.record("restart", "ready (s)", kind, t_ready - ctl.t_exec, tag)
                self.record("restart", "idle: work done (s)", kind, max(t_idle, t_ready) - ctl.t_exec, tag)
                self.record("restart", "CPU to idle (s)", kind, cpu_start, tag)
                self.record("restart", "RSA decryptions", kind, rsa, tag)
                self.notes[("rsa", kind)] = how
                log(f"restart round {r + 1} {kind}: ready {t_ready - ctl.t_exec:.2f} s, idle "
                    f"{max(t_idle, t_ready) - ctl.t_exec:.2f} s, CPU {cpu_start:.2f} s, "
                    f"RSA {rsa} ({how})")
                # scenario 5: steady state, idle
                time.sleep(1)
                c0, t0 = ctl.cpu(), time.monotonic()
                time.sleep(a.idle_window)
                idle_cpu = (ctl.cpu() - c0) / (time.monotonic() - t0)
                rss_idle, _ = ctl.mem_kib()
                self.record("steady", "RSS idle (MiB)", kind, rss_idle / 1024, tag)
                self.record("steady", "CPU idle (% of a core)", kind, 100 * idle_cpu, tag)
                # ... and under RATE updates/s
                hold = os.environ.get("SSRS_BENCH_HOLD")
                if hold and kind == "ours":
                    # Profiling: the controller stays up, idle, until the file is removed.
                    with open(hold, "w") as f:
                        f.write(f"{ctl.pid}\n")
                    log(f"holding: pid {ctl.pid} in {hold}; remove the file to go on")
                    while os.path.exists(hold):
                        time.sleep(1)
                w = self.watch(side["ns"])
                lat, lost, cpu_load, rss_load, hwm = self.load(side, ctl, w, r, per_round)
                w.stop()
                ctl.stop()
                self.record("steady", f"RSS under {a.rate:g}/s (MiB)", kind, rss_load / 1024, tag)
                self.record("steady", "peak RSS (MiB)", kind, hwm / 1024, tag)
                self.record("steady", f"CPU under {a.rate:g}/s (% of a core)", kind, 100 * cpu_load, tag)
                self.record("steady", "latency p50 (ms)", kind, 1000 * pct(lat, 50), tag)
                self.record("steady", "latency p99 (ms)", kind, 1000 * pct(lat, 99), tag)
                self.record("steady", "updates lost", kind, lost, tag)
                log(f"steady round {r + 1} {kind}: RSS idle {rss_idle / 1024:.1f} MiB, load "
                    f"{rss_load / 1024:.1f} MiB (peak {hwm / 1024:.1f}), CPU idle "
                    f"{100 * idle_cpu:.1f}%, load {100 * cpu_load:.1f}%, p50 "
                    f"{1000 * pct(lat, 50):.0f} ms, p99 {1000 * pct(lat, 99):.0f} ms, lost {lost}")

    def load(self, side, ctl, w, r, count):
        """Sends `count` updates at RATE/s (scheduled, 4 senders); returns latencies."""
        a = self.args
        path = SS_PATH.format(ns=side["ns"])
        n_var = len(side["variants"])
        jobs = queue.Queue()
        sent = []  # (name, t_send)
        lock = threading.Lock()
        start = time.monotonic() + 0.2
        for i in range(count):
            jobs.put((start + i / a.rate, (r * count + i) % n_var))

        def sender():
            while True:
                try:
                    when, idx = jobs.get_nowait()
                except queue.Empty:
                    return
                delay = when - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                side["state"][idx] ^= 1
                body = {"spec": {"encryptedData": side["variants"][idx][side["state"][idx]]}}
                name = f"obj-{idx:05d}"
                t = time.monotonic()
                self.api.request("PATCH", f"{path}/{name}", body,
                                 ctype="application/merge-patch+json")
                with lock:
                    sent.append((name, t))

        c0 = ctl.cpu()
        ts = [threading.Thread(target=sender) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        t_end = time.monotonic()
        cpu_load = (ctl.cpu() - c0) / (t_end - start)
        rss, hwm = ctl.mem_kib()
        deadline = time.monotonic() + 60
        lat, lost = [], 0
        for name, t in sent:
            x = w.first_after(name, t)
            while x is None and time.monotonic() < deadline:
                time.sleep(0.1)
                x = w.first_after(name, t)
            if x is None:
                lost += 1
            else:
                lat.append(x - t)
        return lat, lost, cpu_load, rss, hwm

    # --- report --------------------------------------------------------------------------

    def report(self, unseal_ms, cores):
        a = self.args
        lines = []
        kinds = a.sides.split(",")
        first, second = kinds[0], kinds[1] if len(kinds) > 1 else kinds[0]
        lines.append(f"| scenario | metric | {first} | {second} | {second} ÷ {first} |")
        lines.append("|---|---|---:|---:|---:|")
        seen = []
        for (sc, metric, _kind) in self.results:
            if (sc, metric) not in seen:
                seen.append((sc, metric))
        for sc, metric in seen:
            o = median(self.results.get((sc, metric, first), []))
            u = median(self.results.get((sc, metric, second), []))
            ratio = f"{u / o:.1f}×" if o and o == o and u == u and o > 0 else "—"
            fmt = (lambda v: f"{v:.0f}") if ("RSA" in metric or "lost" in metric or
                                             "ms" in metric) else (lambda v: f"{v:.2f}")
            lines.append(f"| {sc} | {metric} | {fmt(o)} | {fmt(u)} | {ratio} |")
        print("\n".join(lines))
        print()
        if self.tags:
            tags = list(self.tags)
            print("| scenario | metric | " + " | ".join(tags) + " |")
            print("|---|---|" + "---:|" * len(tags))
            for sc, metric in seen:
                if sc not in ("restart", "steady"):
                    continue
                vals = [median(self.results.get((sc, metric, t), [])) for t in tags]
                print(f"| {sc} | {metric} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
            print()
        if unseal_ms:
            floor = a.n_cold * ITEMS * unseal_ms / 1000 / cores
            print(f"RSA floor for {a.n_cold} objects: {a.n_cold} x {ITEMS} decryptions x "
                  f"{unseal_ms:.2f} ms / {cores} cores = {floor:.2f} s wall, "
                  f"{floor * cores:.2f} s CPU")
            for sc in ("cold", "backlog"):
                o = median(self.results.get((sc, "all Secrets (s)", "ours"), []))
                print(f"  {sc}: ours is {o / floor:.2f}x the wall floor")
        for (what, kind), how in sorted(self.notes.items()):
            print(f"RSA decryptions ({kind}): {how}")
        print(f"rounds: {a.rounds} cold, {a.restart_rounds or a.rounds} restart + steady "
              f"(alternating, medians); N_COLD={a.n_cold}, N_BIG={a.n_big}, "
              f"{ITEMS} items per SealedSecret, RSA-4096; "
              f"{a.n_unrelated} unrelated Secrets of {a.unrelated_bytes} B per namespace; steady load {a.rate:g} updates/s for "
              f"{a.duration:g} s; controller flags: --all-namespaces=false {a.controller_args}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--cluster-dir", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--ours-bin", required=True)
    p.add_argument("--upstream-bin", required=True)
    p.add_argument("--kubeseal-rs", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ours-variants", default="",
                   help="';'-separated extra controller arguments for ours, one per restart "
                        "round (round R uses variant R mod count); reported per variant too")
    p.add_argument("--restart-rounds", type=int, default=0,
                   help="rounds of restart + steady (default: --rounds)")
    p.add_argument("--n-cold", type=int, default=1000)
    p.add_argument("--n-big", type=int, default=10000)
    p.add_argument("--n-unrelated", type=int, default=0,
                   help="Secrets no SealedSecret owns, created in each controller's namespace")
    p.add_argument("--unrelated-bytes", type=int, default=4096,
                   help="size of each unrelated Secret's value before base64")
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--duration", type=float, default=30)
    p.add_argument("--idle-window", type=float, default=10)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--unseal-ms", type=float, default=0,
                   help="measured single RSA-4096 decryption, for the floor")
    p.add_argument("--controller-args", default="--kubeclient-qps=-1")
    p.add_argument("--scenarios", default="cold,backlog,restart")
    p.add_argument("--sides", default="ours,upstream",
                   help="which controllers to run, the reference first: ours, upstream, pkcs11")
    p.add_argument("--pkcs11-module", default="",
                   help="the kryoptic module, for the pkcs11 side (tests/pkcs11/install.sh)")
    a = p.parse_args()
    b = Bench(a)
    b.setup()
    try:
        if "cold" in a.scenarios:
            b.cold()
        if "backlog" in a.scenarios:
            b.backlog()
        if "restart" in a.scenarios:
            b.populate()
            b.restart_and_steady()
    finally:
        for side in b.sides.values():
            side["ctl"].stop()
    b.report(a.unseal_ms, os.cpu_count())


if __name__ == "__main__":
    main()
