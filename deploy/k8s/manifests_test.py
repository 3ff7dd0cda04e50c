#!/usr/bin/python3
"""Static checks of the Kubernetes manifests under deploy/k8s (no cluster needed).

Parses every YAML file (multi-document), checks per kind the fields the Kubernetes API (and the MPI
Operator's v2beta1 CRD) require, renders base/ and each overlay with a small kustomize (resources,
namespace, JSON 6902 patches) and cross-checks the rendered objects: selectors against pod labels,
probes against ports, the token Secret against its mounts and --token-file, the workers' --coordinator
against the Service's DNS name, -np against the worker slots, GPUs only in the gpu overlay. Where
`kubectl` is installed the overlays are also rendered by `kubectl kustomize` and must come out the same.
Where the Tutti binaries are found (--bin-dir, default <repo>/build/bin), every flag the manifests pass
must appear in the binary's --help. Finally it breaks in-memory copies of the manifests on purpose and
asserts that each breakage is reported (the checker can fail).

Usage: /usr/bin/python3 deploy/k8s/manifests_test.py [--bin-dir DIR] [-q]
Prints one line per file and per named check; exits 1 naming file#document, the key path and what was expected.
Debian's python3 + python3-yaml only.
"""

import argparse
import copy
import os
import posixpath
import re
import shutil
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# The names the pieces agree on (README.md and the manifests' comments say why).
TOKEN_SECRET = "tutti-token"
TOKEN_KEY = "token"
COORDINATOR_SERVICE = "tutti-coordinator"
TEMPLATE_SUFFIX = ".template.yaml"  # shapes to copy, never applied (the token Secret)

CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PriorityClass"}
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
VOLUME_SOURCES = ("secret", "configMap", "emptyDir", "persistentVolumeClaim", "hostPath", "projected",
                  "downwardAPI", "nfs", "csi", "ephemeral")
# MPIJob v2beta1 (kubeflow/mpi-operator pkg/apis/kubeflow/v2beta1/types.go). Unknown fields are refused by
# kubectl's strict field validation, so only these may appear in spec.
MPIJOB_SPEC_KEYS = {"slotsPerWorker", "runPolicy", "mpiReplicaSpecs", "sshAuthMountPath", "mpiImplementation",
                    "launcherCreationPolicy", "runLauncherAsWorker", "managedBy"}
MPI_IMPLEMENTATIONS = {"OpenMPI", "Intel", "MPICH"}
CLEAN_POD_POLICIES = {"All", "Running", "None"}
RESTART_POLICIES = {"Always", "OnFailure", "Never", "ExitCode"}
RUN_POLICY_KEYS = {"cleanPodPolicy", "ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit",
                   "schedulingPolicy", "suspend", "managedBy"}
# mpirun options the launcher may use, with how many values each takes (all must precede the program).
MPIRUN_ARITY = {"-np": 1, "-n": 1, "--bind-to": 1, "--map-by": 1, "--mca": 2, "-mca": 2, "-x": 1,
                "--display-map": 0, "--report-bindings": 0, "--tag-output": 0}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


# ---------------------------------------------------------------------------------------------- reporting
class Report:
    """Collects passes and failures; prints one line per check unless quiet."""

    def __init__(self, quiet=False):
        self.quiet = quiet
        self.passed = 0
        self.failures = []

    def ok(self, where, what):
        self.passed += 1
        if not self.quiet:
            print(f"ok    {where}: {what}")

    def fail(self, where, keypath, expected):
        message = f"{where} {keypath}: {expected}"
        self.failures.append(message)
        if not self.quiet:
            print(f"FAIL  {message}")

    def check(self, cond, where, keypath, expected, what=None):
        """A check; a pass prints a line only when it is named (`what`), a failure always does."""
        if cond and what:
            self.ok(where, what)
        elif cond:
            self.passed += 1
        else:
            self.fail(where, keypath, expected)
        return cond


class Doc:
    """One YAML document: its file (relative to deploy/k8s), index in the file, and content."""

    def __init__(self, file, index, obj):
        self.file, self.index, self.obj = file, index, obj

    @property
    def kind(self):
        return self.obj.get("kind", "?") if isinstance(self.obj, dict) else "?"

    @property
    def name(self):
        meta = self.obj.get("metadata") if isinstance(self.obj, dict) else None
        return meta.get("name", "?") if isinstance(meta, dict) else "?"

    def where(self):
        return f"{self.file}#{self.index} {self.kind}/{self.name}"


def get(obj, path, default=None):
    """obj at a dotted path ('spec.template.spec'); list indices as numbers."""
    for part in path.split(".") if path else []:
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return default
        if obj is None:
            return default
    return obj


def cpu_cores(quantity):
    """A CPU quantity ('4', '500m', 2) in cores, or None."""
    if isinstance(quantity, (int, float)) and not isinstance(quantity, bool):
        return float(quantity)
    if isinstance(quantity, str):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", quantity)
        if m:
            return float(m.group(1)) / (1000 if m.group(2) else 1)
    return None


def to_float(text, default=0.0):
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def flag_values(argv):
    """{'--flag': value} for `--flag value` and `--flag=value` pairs of an argv list."""
    out = {}
    for i, arg in enumerate(argv):
        if not isinstance(arg, str) or not arg.startswith("--"):
            continue
        if "=" in arg:
            k, v = arg.split("=", 1)
            out[k] = v
        elif i + 1 < len(argv) and isinstance(argv[i + 1], str) and not argv[i + 1].startswith("--"):
            out[arg] = argv[i + 1]
        else:
            out[arg] = None
    return out


# ---------------------------------------------------------------------------------------------- loading
def load_tree(root):
    """{relative path: [parsed documents]} for every .yaml/.yml under root; parse errors as a list."""
    tree, errors = {}, []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                with open(path, encoding="utf-8") as f:
                    tree[rel] = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                errors.append((rel, str(e).replace("\n", " ")))
    return tree, errors


def is_kustomization(rel):
    return posixpath.basename(rel) in ("kustomization.yaml", "kustomization.yml")


def patch_files(tree):
    """Files that kustomizations name as patches (checked as patches, not as objects)."""
    out = set()
    for rel, docs in tree.items():
        if is_kustomization(rel) and docs and isinstance(docs[0], dict):
            base = posixpath.dirname(rel)
            for p in docs[0].get("patches") or []:
                if isinstance(p, dict) and isinstance(p.get("path"), str):
                    out.add(posixpath.normpath(posixpath.join(base, p["path"])))
    return out


# ---------------------------------------------------------------------------------------------- per kind
def check_pod_spec(r, where, spec, prefix, claim_templates=()):
    """containers with name+image, volume mounts naming volumes, probes with one handler and real ports."""
    if not r.check(isinstance(spec, dict), where, prefix, "a pod spec (mapping)"):
        return
    volumes = spec.get("volumes") or []
    vol_names = []
    for i, v in enumerate(volumes):
        vp = f"{prefix}.volumes[{i}]"
        if not r.check(isinstance(v, dict) and isinstance(v.get("name"), str), where, vp + ".name", "a volume name"):
            continue
        vol_names.append(v["name"])
        sources = [s for s in VOLUME_SOURCES if s in v]
        r.check(len(sources) == 1, where, vp, f"exactly one volume source ({', '.join(VOLUME_SOURCES)}), got {sources}",
                f"volume {v['name']} has one source ({sources[0] if sources else '-'})")
        if "secret" in v:
            r.check(isinstance(get(v, "secret.secretName"), str), where, vp + ".secret.secretName", "the Secret's name")
        if "persistentVolumeClaim" in v:
            r.check(isinstance(get(v, "persistentVolumeClaim.claimName"), str), where,
                    vp + ".persistentVolumeClaim.claimName", "the claim's name")
    r.check(len(vol_names) == len(set(vol_names)), where, prefix + ".volumes", f"unique names, got {vol_names}",
            "volume names are unique")
    mountable = set(vol_names) | set(claim_templates)

    containers = spec.get("containers")
    if not r.check(isinstance(containers, list) and containers, where, prefix + ".containers",
                   "a non-empty list of containers", "has containers"):
        return
    names = []
    for i, c in enumerate(containers):
        cp = f"{prefix}.containers[{i}]"
        if not r.check(isinstance(c, dict), where, cp, "a container (mapping)"):
            continue
        name = c.get("name")
        r.check(isinstance(name, str) and DNS_LABEL.match(name), where, cp + ".name",
                "a DNS-1123 label", f"container {name}: has a valid name")
        names.append(name)
        r.check(isinstance(c.get("image"), str) and c["image"].strip() != "", where, cp + ".image",
                "an image (required by the API)", f"container {name}: image {c.get('image')}")
        for key in ("command", "args"):
            if key in c:
                r.check(isinstance(c[key], list) and all(isinstance(a, str) for a in c[key]), where,
                        f"{cp}.{key}", "a list of strings (quote numbers)", f"container {name}: {key} are strings")
        ports = c.get("ports") or []
        numbers, port_names = set(), set()
        for j, p in enumerate(ports):
            pp = f"{cp}.ports[{j}]"
            n = p.get("containerPort") if isinstance(p, dict) else None
            if r.check(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 65536, where, pp + ".containerPort",
                       "a port number 1..65535", f"container {name}: port {n}"):
                numbers.add(n)
            if isinstance(p, dict) and "name" in p:
                pn = p["name"]
                r.check(isinstance(pn, str) and len(pn) <= 15 and DNS_LABEL.match(pn) and pn not in port_names,
                        where, pp + ".name", "a unique IANA_SVC_NAME (<= 15 chars)", f"container {name}: port name {pn}")
                port_names.add(pn)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe not in c:
                continue
            pr = c[probe]
            prp = f"{cp}.{probe}"
            handlers = [h for h in PROBE_HANDLERS if isinstance(pr, dict) and h in pr]
            if not r.check(len(handlers) == 1, where, prp, f"exactly one handler of {PROBE_HANDLERS}, got {handlers}",
                           f"container {name}: {probe} has one handler ({handlers[0] if handlers else '-'})"):
                continue
            h = handlers[0]
            if h == "exec":
                r.check(isinstance(get(pr, "exec.command"), list), where, prp + ".exec.command", "a command list")
                continue
            port = get(pr, f"{h}.port")
            if h == "grpc":  # the API takes a number only for grpc probes
                r.check(isinstance(port, int) and port in numbers, where, prp + ".grpc.port",
                        f"a port number declared in containerPort {sorted(numbers)} (grpc probes take no names), got {port!r}",
                        f"container {name}: {probe} grpc port {port} is a container port")
            else:
                r.check((isinstance(port, int) and port in numbers) or (isinstance(port, str) and port in port_names),
                        where, f"{prp}.{h}.port",
                        f"a declared containerPort {sorted(numbers)} or port name {sorted(port_names)}, got {port!r}",
                        f"container {name}: {probe} {h} port {port} is declared")
            for k in ("periodSeconds", "timeoutSeconds", "failureThreshold", "initialDelaySeconds", "successThreshold"):
                if k in pr:
                    r.check(isinstance(pr[k], int) and pr[k] >= (0 if k == "initialDelaySeconds" else 1), where,
                            f"{prp}.{k}", f"a positive integer, got {pr[k]!r}")
            if probe in ("livenessProbe", "startupProbe") and "successThreshold" in pr:
                r.check(pr["successThreshold"] == 1, where, prp + ".successThreshold", f"1 for liveness/startup probes, got {pr['successThreshold']!r}")
        for j, m in enumerate(c.get("volumeMounts") or []):
            mp = f"{cp}.volumeMounts[{j}]"
            if not r.check(isinstance(m, dict), where, mp, "a mapping"):
                continue
            r.check(m.get("name") in mountable, where, mp + ".name",
                    f"a volume or volumeClaimTemplate ({sorted(mountable)}), got {m.get('name')!r}",
                    f"container {name}: mount {m.get('name')} -> {m.get('mountPath')} names a volume")
            r.check(isinstance(m.get("mountPath"), str) and m["mountPath"].startswith("/"), where, mp + ".mountPath",
                    f"an absolute path, got {m.get('mountPath')!r}")
        requests = get(c, "resources.requests")
        r.check(isinstance(requests, dict) and requests, where, cp + ".resources.requests",
                "resource requests (the scheduler places the pod by them)", f"container {name}: has resource requests")
    r.check(len(names) == len(set(names)), where, prefix + ".containers", f"unique container names, got {names}",
            "container names are unique")
    sc = spec.get("securityContext") or {}
    r.check(sc.get("runAsNonRoot") is True and isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] > 0
            and isinstance(sc.get("fsGroup"), int), where, prefix + ".securityContext",
            "runAsNonRoot: true, a non-zero runAsUser and an fsGroup (volumes and the token readable by that user)",
            f"pod runs as non-root uid {sc.get('runAsUser')}, fsGroup {sc.get('fsGroup')}")


def check_object(r, doc):
    obj, where = doc.obj, doc.where()
    if not r.check(isinstance(obj, dict), where, "(document)", "a mapping (a Kubernetes object)"):
        return
    r.check(isinstance(obj.get("apiVersion"), str), where, "apiVersion", "a string")
    r.check(isinstance(obj.get("kind"), str), where, "kind", "a string")
    name = get(obj, "metadata.name")
    r.check(isinstance(name, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name or "") is not None,
            where, "metadata.name", "a DNS-1123 name", "apiVersion, kind, metadata.name")
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "StatefulSet":
        r.check(obj["apiVersion"] == "apps/v1", where, "apiVersion", f"apps/v1, got {obj['apiVersion']!r}")
        selector = get(obj, "spec.selector.matchLabels")
        labels = get(obj, "spec.template.metadata.labels") or {}
        if r.check(isinstance(selector, dict) and selector, where, "spec.selector.matchLabels", "non-empty labels"):
            missing = {k: v for k, v in selector.items() if labels.get(k) != v}
            r.check(not missing, where, "spec.template.metadata.labels",
                    f"every label of spec.selector.matchLabels (the API refuses a selector that does not match the "
                    f"template); missing or different: {missing}", "spec.selector.matchLabels match the template labels")
        r.check(isinstance(spec.get("serviceName"), str), where, "spec.serviceName", "the governing Service's name")
        r.check(spec.get("replicas") == 1, where, "spec.replicas",
                f"1 (one coordinator per home: it locks coordinator.lock), got {spec.get('replicas')!r}", "spec.replicas is 1")
        claims = []
        for i, t in enumerate(spec.get("volumeClaimTemplates") or []):
            tp = f"spec.volumeClaimTemplates[{i}]"
            cname = get(t, "metadata.name")
            if r.check(isinstance(cname, str), where, tp + ".metadata.name", "a claim template name"):
                claims.append(cname)
            r.check(isinstance(get(t, "spec.accessModes"), list) and get(t, "spec.accessModes"), where,
                    tp + ".spec.accessModes", "a non-empty list")
            r.check(get(t, "spec.resources.requests.storage") is not None, where,
                    tp + ".spec.resources.requests.storage", "a size", f"claim template {cname}: access modes and size")
        check_pod_spec(r, where, get(obj, "spec.template.spec"), "spec.template.spec", claims)
    elif kind == "Service":
        r.check(obj["apiVersion"] == "v1", where, "apiVersion", f"v1, got {obj['apiVersion']!r}")
        ports = spec.get("ports")
        if r.check(isinstance(ports, list) and ports, where, "spec.ports", "a non-empty list"):
            for i, p in enumerate(ports):
                n = p.get("port") if isinstance(p, dict) else None
                r.check(isinstance(n, int) and 0 < n < 65536, where, f"spec.ports[{i}].port", "a port number",
                        f"port {p.get('name') if isinstance(p, dict) else '?'}={n}")
                if len(ports) > 1:
                    r.check(isinstance(p, dict) and isinstance(p.get("name"), str), where, f"spec.ports[{i}].name",
                            "a name (required when a Service has several ports)")
        r.check(isinstance(spec.get("selector"), dict) and spec["selector"], where, "spec.selector",
                "non-empty labels", "has a selector")
    elif kind == "Secret":
        r.check(isinstance(obj.get("type"), str), where, "type", "a Secret type (Opaque)")
        data = obj.get("data") or {}
        string_data = obj.get("stringData") or {}
        r.check(isinstance(data, dict) and isinstance(string_data, dict) and (data or string_data), where,
                "data/stringData", "at least one key", f"keys {sorted(list(data) + list(string_data))}")
    elif kind == "PersistentVolumeClaim":
        r.check(isinstance(spec.get("accessModes"), list) and spec["accessModes"], where, "spec.accessModes",
                "a non-empty list")
        r.check(get(spec, "resources.requests.storage") is not None, where, "spec.resources.requests.storage",
                "a size", "access modes and size")
    elif kind == "MPIJob":
        check_mpijob(r, doc)


def check_mpijob(r, doc):
    obj, where = doc.obj, doc.where()
    spec = obj.get("spec") or {}
    r.check(obj.get("apiVersion") == "kubeflow.org/v2beta1", where, "apiVersion",
            f"kubeflow.org/v2beta1, got {obj.get('apiVersion')!r}")
    unknown = sorted(set(spec) - MPIJOB_SPEC_KEYS)
    r.check(not unknown, where, "spec", f"only MPIJob v2beta1 fields {sorted(MPIJOB_SPEC_KEYS)}, got unknown {unknown}",
            "spec has only v2beta1 fields")
    slots = spec.get("slotsPerWorker")
    r.check(isinstance(slots, int) and not isinstance(slots, bool) and slots >= 1, where, "spec.slotsPerWorker",
            f"an integer >= 1, got {slots!r}", f"slotsPerWorker {slots}")
    impl = spec.get("mpiImplementation", "OpenMPI")
    r.check(impl in MPI_IMPLEMENTATIONS, where, "spec.mpiImplementation", f"one of {sorted(MPI_IMPLEMENTATIONS)}, got {impl!r}",
            f"mpiImplementation {impl}")
    if "launcherCreationPolicy" in spec:
        lcp = spec["launcherCreationPolicy"]
        r.check(lcp in ("AtStartup", "WaitForWorkersReady"), where, "spec.launcherCreationPolicy",
                f"AtStartup or WaitForWorkersReady, got {lcp!r}", f"launcherCreationPolicy {lcp}")
    rp = spec.get("runPolicy") or {}
    r.check(isinstance(rp, dict) and not (set(rp) - RUN_POLICY_KEYS), where, "spec.runPolicy",
            f"only {sorted(RUN_POLICY_KEYS)}, got {sorted(rp) if isinstance(rp, dict) else rp!r}")
    if "cleanPodPolicy" in rp:
        r.check(rp["cleanPodPolicy"] in CLEAN_POD_POLICIES, where, "spec.runPolicy.cleanPodPolicy",
                f"one of {sorted(CLEAN_POD_POLICIES)}, got {rp['cleanPodPolicy']!r}", f"cleanPodPolicy {rp['cleanPodPolicy']}")
    if "backoffLimit" in rp:
        r.check(isinstance(rp["backoffLimit"], int) and rp["backoffLimit"] >= 0, where, "spec.runPolicy.backoffLimit",
                f"an integer >= 0, got {rp['backoffLimit']!r}", f"backoffLimit {rp['backoffLimit']}")
    specs = spec.get("mpiReplicaSpecs")
    if not r.check(isinstance(specs, dict) and set(specs) == {"Launcher", "Worker"}, where, "spec.mpiReplicaSpecs",
                   f"exactly Launcher and Worker, got {sorted(specs) if isinstance(specs, dict) else specs!r}",
                   "mpiReplicaSpecs has Launcher and Worker"):
        return
    for role in ("Launcher", "Worker"):
        rs = specs[role] or {}
        p = f"spec.mpiReplicaSpecs.{role}"
        n = rs.get("replicas")
        if role == "Launcher":
            r.check(n == 1, where, p + ".replicas", f"1, got {n!r}", "Launcher replicas 1")
        else:
            r.check(isinstance(n, int) and n >= 1, where, p + ".replicas", f"an integer >= 1, got {n!r}",
                    f"Worker replicas {n}")
        if "restartPolicy" in rs:
            r.check(rs["restartPolicy"] in RESTART_POLICIES, where, p + ".restartPolicy", f"one of {sorted(RESTART_POLICIES)}, got {rs['restartPolicy']!r}")
        check_pod_spec(r, where, get(rs, "template.spec"), p + ".template.spec")


# ---------------------------------------------------------------------------------------------- kustomize
class RenderError(Exception):
    pass


def resolve_pointer(ptr):
    if not ptr.startswith("/"):
        raise RenderError(f"JSON pointer {ptr!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")]


def json6902(obj, ops, where):
    """Applies RFC 6902 operations (add, remove, replace, move, copy, test) to obj in place."""
    def parent_of(tokens):
        cur = obj
        for t in tokens[:-1]:
            if isinstance(cur, dict) and t in cur:
                cur = cur[t]
            elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
                cur = cur[int(t)]
            else:
                raise RenderError(f"{where}: path /{'/'.join(tokens)}: /{'/'.join(tokens[:tokens.index(t) + 1])} "
                                  f"does not exist in the target")
        return cur, tokens[-1]

    def read(tokens):
        parent, last = parent_of(tokens)
        if isinstance(parent, dict) and last in parent:
            return parent[last]
        if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
            return parent[int(last)]
        raise RenderError(f"{where}: path /{'/'.join(tokens)} does not exist in the target")

    for i, op in enumerate(ops):
        w = f"{where} op {i}"
        if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
            raise RenderError(f"{w}: expected op add/remove/replace/move/copy/test, got {op!r}")
        tokens = resolve_pointer(op.get("path", ""))
        kind = op["op"]
        if kind in ("move", "copy"):
            value = copy.deepcopy(read(resolve_pointer(op.get("from", ""))))
            if kind == "move":
                json6902(obj, [{"op": "remove", "path": op["from"]}], w)
            kind = "add"
        elif kind == "test":
            if read(tokens) != op.get("value"):
                raise RenderError(f"{w}: test of {op['path']} failed")
            continue
        elif kind != "remove":
            if "value" not in op:
                raise RenderError(f"{w}: {kind} needs a value")
            value = copy.deepcopy(op["value"])
        parent, last = parent_of(tokens)
        if isinstance(parent, dict):
            if kind in ("replace", "remove") and last not in parent:
                raise RenderError(f"{w}: {kind} of {op['path']}: no such key in the target")
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = value
        elif isinstance(parent, list):
            if last == "-" and kind == "add":
                parent.append(value)
                continue
            if not last.isdigit():
                raise RenderError(f"{w}: {op['path']}: list index expected")
            idx = int(last)
            limit = len(parent) if kind == "add" else len(parent) - 1
            if idx > limit:
                raise RenderError(f"{w}: {op['path']}: index {idx} out of range (list of {len(parent)})")
            if kind == "add":
                parent.insert(idx, value)
            elif kind == "replace":
                parent[idx] = value
            else:
                del parent[idx]
        else:
            raise RenderError(f"{w}: {op['path']}: parent is not a mapping or list")


def target_matches(target, obj):
    kind, name = target.get("kind"), target.get("name")
    if kind and obj.get("kind") != kind:
        return False
    if name and not re.fullmatch(name, get(obj, "metadata.name", "")):
        return False
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    if target.get("group") is not None and target["group"] != group:
        return False
    if target.get("version") and target["version"] != version:
        return False
    return True


def render(tree, kdir, r, seen=()):
    """kustomize build of kdir (relative to deploy/k8s) from the in-memory tree: [Doc] with provenance."""
    krel = posixpath.join(kdir, "kustomization.yaml") if kdir else "kustomization.yaml"
    if krel in seen:
        raise RenderError(f"{krel}: kustomization cycle")
    if krel not in tree or not tree[krel]:
        raise RenderError(f"{krel}: missing")
    k = tree[krel][0]
    out = []
    for i, res in enumerate(k.get("resources") or []):
        path = posixpath.normpath(posixpath.join(kdir, res))
        if path in tree:
            out += [Doc(path, j, copy.deepcopy(d)) for j, d in enumerate(tree[path])]
        elif posixpath.join(path, "kustomization.yaml") in tree:
            out += render(tree, path, r, seen + (krel,))
        else:
            raise RenderError(f"{krel} resources[{i}]: {res} is neither a YAML file nor a kustomization directory")
    for i, p in enumerate(k.get("patches") or []):
        where = f"{krel} patches[{i}]"
        if "path" in p:
            prel = posixpath.normpath(posixpath.join(kdir, p["path"]))
            if prel not in tree:
                raise RenderError(f"{where}.path: {p['path']} does not exist")
            content = tree[prel][0] if tree[prel] else None
        else:
            content = yaml.safe_load(p.get("patch", "")) if isinstance(p.get("patch"), str) else None
        if not isinstance(content, list):
            raise RenderError(f"{where}: only JSON 6902 patches (a list of operations) are understood here")
        target = p.get("target")
        if not isinstance(target, dict) or not target.get("kind") or not target.get("name"):
            raise RenderError(f"{where}.target: kind and name of the object to patch")
        hits = [d for d in out if target_matches(target, d.obj)]
        if not hits:
            names = sorted(f"{d.kind}/{d.name}" for d in out)
            raise RenderError(f"{where}.target: {target.get('kind')}/{target.get('name')} is not among the resources "
                              f"of {kdir or '.'}: {names}")
        for d in hits:
            json6902(d.obj, content, where)
    ns = k.get("namespace")
    if ns:
        for d in out:
            if d.obj.get("kind") not in CLUSTER_SCOPED:
                d.obj.setdefault("metadata", {})["namespace"] = ns
    return out


def check_kustomization(r, tree, rel):
    where = f"{rel}#0 Kustomization"
    k = tree[rel][0] if tree[rel] else None
    if not r.check(isinstance(k, dict), where, "(document)", "a Kustomization mapping"):
        return
    r.check(k.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and k.get("kind") == "Kustomization", where,
            "apiVersion/kind", "kustomize.config.k8s.io/v1beta1 Kustomization")
    kdir = posixpath.dirname(rel)
    for i, res in enumerate(k.get("resources") or []):
        path = posixpath.normpath(posixpath.join(kdir, res))
        exists = path in tree or posixpath.join(path, "kustomization.yaml") in tree
        r.check(exists, where, f"resources[{i}]", f"{res} to exist (a YAML file or a kustomization directory)",
                f"resource {res} exists")
    for i, p in enumerate(k.get("patches") or []):
        if "path" in p:
            r.check(posixpath.normpath(posixpath.join(kdir, p["path"])) in tree, where, f"patches[{i}].path",
                    f"{p['path']} to exist", f"patch {p['path']} exists")
        t = p.get("target") or {}
        r.check(bool(t.get("kind")) and bool(t.get("name")), where, f"patches[{i}].target",
                "kind and name of the object it patches")
    for key in ("patchesJson6902", "patchesStrategicMerge", "bases", "commonLabels"):
        r.check(key not in k, where, key, "not used (deprecated in kustomize v5; use resources / patches / labels)")
    try:
        docs = render(tree, kdir, r)
        r.ok(where, f"renders: every patch target exists ({len(docs)} objects)")
    except RenderError as e:
        r.fail(where, "(render)", str(e))


# ---------------------------------------------------------------------------------------------- cross-checks
def pod_templates(docs):
    """(doc, role, pod spec path, pod spec, labels) of every workload in a render."""
    out = []
    for d in docs:
        if d.kind == "StatefulSet":
            out.append((d, "coordinator", "spec.template.spec", get(d.obj, "spec.template.spec") or {},
                        get(d.obj, "spec.template.metadata.labels") or {}))
        elif d.kind == "MPIJob":
            for role in ("Launcher", "Worker"):
                p = f"spec.mpiReplicaSpecs.{role}.template"
                out.append((d, role, p + ".spec", get(d.obj, p + ".spec") or {}, get(d.obj, p + ".metadata.labels") or {}))
    return out


def token_mounts(spec, secret_name=TOKEN_SECRET):
    """{file path: container name} for each mount of the token Secret's key in a pod spec."""
    out = {}
    vols = {v.get("name"): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for c in spec.get("containers") or []:
        for m in c.get("volumeMounts") or []:
            v = vols.get(m.get("name")) or {}
            s = v.get("secret")
            if not s or s.get("secretName") != secret_name:
                continue
            items = s.get("items")
            files = [it["path"] for it in items if it.get("key") == TOKEN_KEY] if items else [TOKEN_KEY]
            for f in files:
                out[posixpath.join(m["mountPath"], f)] = c.get("name")
    return out


def parse_mpirun(cmd):
    """(mpirun options as [(flag, values)], program index) of a launcher command, or raises ValueError."""
    if not cmd or posixpath.basename(cmd[0]) != "mpirun":
        raise ValueError(f"the command to start with mpirun, got {cmd[:1]}")
    opts, i = [], 1
    while i < len(cmd) and cmd[i].startswith("-"):
        if cmd[i] not in MPIRUN_ARITY:
            raise ValueError(f"a known mpirun option ({sorted(MPIRUN_ARITY)}) before the program, got {cmd[i]!r}")
        n = MPIRUN_ARITY[cmd[i]]
        opts.append((cmd[i], cmd[i + 1:i + 1 + n]))
        i += 1 + n
    if i >= len(cmd):
        raise ValueError("a program after the mpirun options")
    return opts, i


def check_render(r, label, docs, flavour, secret_doc):
    """Cross-checks of one rendered kustomization (base, cpu or gpu)."""
    where0 = f"render({label})"
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.kind, []).append(d)
    keys = [(d.kind, d.name) for d in docs]
    r.check(len(keys) == len(set(keys)), where0, "(objects)", f"unique kind/name, got {sorted(keys)}",
            f"{len(docs)} objects, kind/name unique")
    namespaces = [d.name for d in by_kind.get("Namespace", [])]
    for d in docs:
        if d.kind not in CLUSTER_SCOPED:
            r.check(get(d.obj, "metadata.namespace") in namespaces, f"{where0} {d.where()}", "metadata.namespace",
                    f"the namespace this deployment creates ({namespaces})")
    services = {d.name: d for d in by_kind.get("Service", [])}
    sts_list = by_kind.get("StatefulSet", [])
    if not r.check(len(sts_list) == 1, where0, "StatefulSet", "exactly one (the coordinator)"):
        return
    sts = sts_list[0]
    sw = f"{where0} {sts.where()}"
    pod_labels = get(sts.obj, "spec.template.metadata.labels") or {}
    pod = get(sts.obj, "spec.template.spec") or {}
    container = (pod.get("containers") or [{}])[0]
    port_by_name = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
    numbers = set(port_by_name.values())

    # StatefulSet <-> Services
    gov = services.get(get(sts.obj, "spec.serviceName"))
    if r.check(gov is not None, sw, "spec.serviceName", f"a Service in this deployment ({sorted(services)})",
               f"serviceName {get(sts.obj, 'spec.serviceName')} is a Service here"):
        r.check(get(gov.obj, "spec.clusterIP") == "None", sw, "spec.serviceName",
                "a headless Service (clusterIP: None) to govern the StatefulSet", "its governing Service is headless")
    for s in services.values():
        w = f"{where0} {s.where()}"
        sel = get(s.obj, "spec.selector") or {}
        r.check(sel and all(pod_labels.get(k) == v for k, v in sel.items()), w, "spec.selector",
                f"labels of the coordinator's pods {pod_labels}, got {sel}", "selector matches the coordinator's pods")
        for i, p in enumerate(get(s.obj, "spec.ports") or []):
            tp = p.get("targetPort", p.get("port"))
            r.check(tp in port_by_name if isinstance(tp, str) else tp in numbers, w, f"spec.ports[{i}].targetPort",
                    f"a port of the coordinator container {port_by_name}, got {tp!r}", f"port {p.get('name')} -> {tp}")
    svc = services.get(COORDINATOR_SERVICE)
    if not r.check(svc is not None and get(svc.obj, "spec.clusterIP") != "None", where0, f"Service/{COORDINATOR_SERVICE}",
                   "a ClusterIP Service for clients and workers"):
        return
    svc_ports = {p.get("name"): p.get("port") for p in get(svc.obj, "spec.ports") or []}
    r.check(svc_ports.get("grpc") == 7070 and svc_ports.get("http") == 8080, f"{where0} {svc.where()}", "spec.ports",
            f"grpc 7070 and http 8080, got {svc_ports}", "ports grpc 7070, http 8080")

    # The coordinator's command line against its ports, volume, probes and grace period.
    args = flag_values(container.get("args") or [])
    listen, http = args.get("--listen") or "", args.get("--http") or ""
    grpc_port = port_by_name.get("grpc")
    r.check(listen == f"0.0.0.0:{grpc_port}", sw, "containers[0].args --listen",
            f"0.0.0.0:<grpc containerPort {grpc_port}> (reachable from the Service and the probes), got {listen!r}",
            f"--listen {listen} is the grpc port on all interfaces")
    r.check(http == f"0.0.0.0:{port_by_name.get('http')}", sw, "containers[0].args --http",
            f"0.0.0.0:<http containerPort {port_by_name.get('http')}>, got {http!r}", f"--http {http}")
    claims = [get(t, "metadata.name") for t in get(sts.obj, "spec.volumeClaimTemplates") or []]
    home_mounts = {m.get("mountPath") for m in container.get("volumeMounts") or [] if m.get("name") in claims}
    r.check(args.get("--home") in home_mounts, sw, "containers[0].args --home",
            f"the mount path of a volumeClaimTemplate ({sorted(home_mounts)}), got {args.get('--home')!r}",
            f"--home {args.get('--home')} is the persistent volume")
    for probe in ("livenessProbe", "readinessProbe"):
        r.check(get(container, f"{probe}.grpc.port") == grpc_port, sw, f"containers[0].{probe}",
                f"a grpc probe on the gRPC port {grpc_port} (standard health service)", f"{probe} is grpc on {grpc_port}")
    grace = to_float(args.get("--grace"), 10)
    tgps = get(sts.obj, "spec.template.spec.terminationGracePeriodSeconds", 30)
    r.check(tgps >= grace + 10, sw, "spec.template.spec.terminationGracePeriodSeconds",
            f">= --grace ({grace:g}) + 10 s to close the database, got {tgps}",
            f"terminationGracePeriodSeconds {tgps} covers --grace {grace:g}")

    # Token: the Secret's name and key, what each pod mounts, what --token-file names.
    secret_name = get(secret_doc.obj, "metadata.name") if secret_doc else None
    secret_keys = set((secret_doc.obj.get("data") or {})) | set((secret_doc.obj.get("stringData") or {})) if secret_doc else set()
    r.check(secret_name == TOKEN_SECRET and TOKEN_KEY in secret_keys, where0, "token Secret",
            f"Secret {TOKEN_SECRET} with key {TOKEN_KEY!r} (the template), got {secret_name} {sorted(secret_keys)}",
            f"token Secret {secret_name} has key {TOKEN_KEY}")
    r.check("Secret" not in by_kind, where0, "Secret", "no Secret in the render: `kubectl apply -k` must never "
            "overwrite the real token (create it with kubectl create secret generic)", "renders no Secret")
    for d, role, sp, spec, _ in pod_templates(docs):
        w = f"{where0} {d.where()} {role}"
        secrets = [get(v, "secret.secretName") for v in spec.get("volumes") or [] if "secret" in v]
        r.check(secret_name in secrets, w, f"{sp}.volumes[].secret.secretName",
                f"a volume of the token Secret {secret_name}, got Secrets {secrets}", f"has a volume of Secret {secret_name}")
        for v in spec.get("volumes") or []:
            if "secret" in v:
                mode = get(v, "secret.defaultMode")
                r.check(isinstance(mode, int) and mode & 0o007 == 0, w, f"{sp}.volumes[{v.get('name')}].secret.defaultMode",
                        f"no access for others (e.g. 0440), got {oct(mode) if isinstance(mode, int) else mode}")
        mounts = token_mounts(spec, secret_name)
        if role == "coordinator":
            tf = args.get("--token-file")
        elif role == "Worker":
            tf = None  # the workers' --token-file is on the launcher's command line (checked below)
        else:
            tf = flag_values(get(spec, "containers.0.command") or []).get("--token-file")
        r.check(bool(mounts), w, f"{sp}.containers[].volumeMounts", f"a mount of key {TOKEN_KEY} of Secret {secret_name}",
                f"token mounted at {sorted(mounts)}")
        if tf is not None or role != "Worker":
            r.check(tf in mounts, w, "--token-file", f"the mounted token file {sorted(mounts)}, got {tf!r}",
                    f"--token-file {tf} is the mounted key")

    # Workers: MPIJob launcher command against the Service, the slots, the worker pods.
    jobs = by_kind.get("MPIJob", [])
    if not r.check(len(jobs) == 1, where0, "MPIJob", "exactly one (the workers)"):
        return
    job = jobs[0]
    jw = f"{where0} {job.where()}"
    spec = job.obj.get("spec") or {}
    slots = spec.get("slotsPerWorker", 1)
    launcher = get(job.obj, "spec.mpiReplicaSpecs.Launcher.template.spec") or {}
    worker = get(job.obj, "spec.mpiReplicaSpecs.Worker.template.spec") or {}
    lc = (launcher.get("containers") or [{}])[0]
    wc = (worker.get("containers") or [{}])[0]
    replicas = get(job.obj, "spec.mpiReplicaSpecs.Worker.replicas")
    cmd = (lc.get("command") or []) + (lc.get("args") or [])
    lp = "spec.mpiReplicaSpecs.Launcher.template.spec.containers[0].command"
    try:
        opts, prog = parse_mpirun(cmd)
        r.ok(jw, f"launcher: mpirun options {[o for o, _ in opts]} precede the program")
    except ValueError as e:
        r.fail(jw, lp, str(e))
        return
    np_values = [v[0] for o, v in opts if o in ("-np", "-n")]
    r.check(np_values == [str(replicas * slots)], jw, lp + " -np",
            f"Worker replicas ({replicas}) x slotsPerWorker ({slots}) = {replicas * slots}, got {np_values}",
            f"-np {np_values[0] if np_values else '?'} = {replicas} workers x {slots} slots")
    r.check(("--bind-to", ["none"]) in opts, jw, lp, "--bind-to none (the pod's cgroup, not Open MPI, places ranks)",
            "--bind-to none")
    r.check(posixpath.basename(cmd[prog]) == "tutti-worker" and cmd[prog].startswith("/"), jw, f"{lp}[{prog}]",
            f"the absolute path of tutti-worker (ssh sessions have a minimal PATH), got {cmd[prog]!r}",
            f"runs {cmd[prog]}")
    wargs = flag_values(cmd[prog + 1:])
    ns = get(svc.obj, "metadata.namespace")
    want = f"{svc.name}.{ns}.svc:{svc_ports.get('grpc')}"
    r.check(wargs.get("--coordinator") == want, jw, lp + " --coordinator",
            f"the Service's DNS name and gRPC port {want}, got {wargs.get('--coordinator')!r}", f"--coordinator {want}")
    r.check(to_float(wargs.get("--wait")) > 0, jw, lp + " --wait",
            "a wait for a queued trial (seconds > 0)", f"--wait {wargs.get('--wait')}")
    wmounts = {m.get("mountPath") for m in wc.get("volumeMounts") or []}
    r.check(wargs.get("--token-file") in token_mounts(worker, secret_name), jw, lp + " --token-file",
            f"the token file mounted in the Worker pods, where rank 0 runs {sorted(token_mounts(worker, secret_name))}, "
            f"got {wargs.get('--token-file')!r}", f"--token-file {wargs.get('--token-file')} is mounted in the workers")
    if "--work-dir" in wargs:
        r.check(wargs["--work-dir"] in wmounts, jw, lp + " --work-dir", f"a mount of the Worker pods {sorted(wmounts)}, got {wargs['--work-dir']!r}",
                f"--work-dir {wargs['--work-dir']} is a worker volume")
    r.check(lc.get("image") == wc.get("image"), jw, "spec.mpiReplicaSpecs.*.containers[0].image",
            f"the same image for Launcher and Worker (mpirun and orted must match), got {lc.get('image')} / {wc.get('image')}",
            f"launcher and workers run {wc.get('image')}")
    # ssh: mpirun's ssh options against the workers' sshd (port, keys under sshAuthMountPath).
    rsh = " ".join(v[1] for o, v in opts if o in ("--mca", "-mca") and v[0] == "plm_rsh_args").split()
    sshd = (wc.get("command") or []) + (wc.get("args") or [])
    ssh_mount = spec.get("sshAuthMountPath", "/root/.ssh")
    wports = {p.get("containerPort") for p in wc.get("ports") or []}
    if posixpath.basename(sshd[0] if sshd else "") == "sshd":
        sshd_port = sshd[sshd.index("-p") + 1] if "-p" in sshd else "22"
        rsh_port = rsh[rsh.index("-p") + 1] if "-p" in rsh else "22"
        r.check(rsh_port == sshd_port and int(sshd_port) in wports, jw, lp + " plm_rsh_args -p",
                f"the workers' sshd port {sshd_port} (a declared containerPort {sorted(wports)}), got {rsh_port}",
                f"mpirun's ssh port {rsh_port} = the workers' sshd port")
        keys = [rsh[rsh.index("-i") + 1]] if "-i" in rsh else []
        keys += [sshd[sshd.index("-h") + 1]] if "-h" in sshd else []
        r.check(all(posixpath.dirname(k) == ssh_mount for k in keys), jw, "spec.sshAuthMountPath",
                f"the directory of the ssh keys the command lines name {keys}, got {ssh_mount}",
                f"ssh keys {keys} are in sshAuthMountPath")
    else:
        r.fail(jw, "spec.mpiReplicaSpecs.Worker.template.spec.containers[0].command", "sshd (mpirun reaches workers by ssh)")
    # Packs: every worker mounts an existing claim.
    pvcs = {d.name for d in by_kind.get("PersistentVolumeClaim", [])}
    for v in worker.get("volumes") or []:
        if "persistentVolumeClaim" in v:
            r.check(get(v, "persistentVolumeClaim.claimName") in pvcs, jw, f"Worker volumes[{v.get('name')}]",
                    f"a PersistentVolumeClaim of this deployment {sorted(pvcs)}", f"worker volume {v.get('name')} -> "
                    f"claim {get(v, 'persistentVolumeClaim.claimName')}")

    # Flavours: GPUs only in the gpu overlay, one per rank; threads per rank = the rank's cores.
    gpu_containers = []
    for d, role, sp, spec_, _ in pod_templates(docs):
        for c in spec_.get("containers") or []:
            res = c.get("resources") or {}
            if any("nvidia.com/gpu" in (res.get(k) or {}) for k in ("limits", "requests")):
                gpu_containers.append(f"{d.kind}/{d.name} {role} {c.get('name')}")
    wres = wc.get("resources") or {}
    if flavour == "gpu":
        gpus = (wres.get("limits") or {}).get("nvidia.com/gpu")
        r.check(gpus == slots, jw, "spec.mpiReplicaSpecs.Worker.template.spec.containers[0].resources.limits",
                f"nvidia.com/gpu = slotsPerWorker ({slots}): one GPU per rank, got {gpus!r}",
                f"workers request nvidia.com/gpu {gpus} (= slots)")
        r.check(gpu_containers == [f"MPIJob/{job.name} Worker {wc.get('name')}"], jw, "resources",
                f"nvidia.com/gpu on the Worker container only, got {gpu_containers}", "only workers take GPUs")
        r.check(str(wc.get("image", "")).endswith(":cuda"), jw, "Worker image", "the CUDA image (tutti:cuda)",
                f"workers on {wc.get('image')}")
    else:
        r.check(not gpu_containers, where0, "resources", f"no nvidia.com/gpu in a {flavour} render, got {gpu_containers}",
                f"no nvidia.com/gpu in {label}")
    if flavour in ("cpu", "gpu"):
        cores = cpu_cores(get(wres, "requests.cpu"))
        threads = wargs.get("--threads-per-rank")
        want_threads = str(int(cores // slots)) if cores else None
        r.check(threads is not None and threads == want_threads, jw, lp + " --threads-per-rank",
                f"the cores of one rank: cpu request ({get(wres, 'requests.cpu')}) / slotsPerWorker ({slots}) = "
                f"{want_threads}, got {threads!r}", f"--threads-per-rank {threads} = cores per rank")


def check_flags_exist(r, docs, bin_dir):
    """Every flag the manifests pass appears in the binary's --help."""
    wanted = {}
    for d in docs:
        if d.kind == "StatefulSet":
            c = get(d.obj, "spec.template.spec.containers.0") or {}
            wanted.setdefault("tutti-coordinator", set()).update(flag_values(c.get("args") or []))
        if d.kind == "MPIJob":
            c = get(d.obj, "spec.mpiReplicaSpecs.Launcher.template.spec.containers.0") or {}
            cmd = c.get("command") or []
            try:
                _, prog = parse_mpirun(cmd)
                wanted.setdefault("tutti-worker", set()).update(flag_values(cmd[prog + 1:]))
            except ValueError:
                pass
    for binary, flags in sorted(wanted.items()):
        path = os.path.join(bin_dir, binary)
        if not os.access(path, os.X_OK):
            print(f"skip  {binary} --help: no binary at {path} (flags not compared)")
            continue
        try:
            text = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as e:
            r.fail(binary, "--help", f"to run: {e}")
            continue
        for f in sorted(flags):
            r.check(re.search(r"(^|[\s,])" + re.escape(f) + r"\b", text) is not None, f"{binary} --help", f,
                    f"a flag {binary} accepts", f"{f} is a {binary} flag")


# ---------------------------------------------------------------------------------------------- the run
def flavours(tree):
    """{kustomization dir: 'base' | 'cpu' | 'gpu'}: base/, overlays/cpu, overlays/gpu and any other overlay
    (one whose directory name starts with gpu follows the gpu rules, any other the cpu rules)."""
    out = {"base": "base", "overlays/cpu": "cpu", "overlays/gpu": "gpu"}
    for rel in tree:
        parts = rel.split("/")
        if len(parts) == 3 and parts[0] == "overlays" and is_kustomization(rel):
            out.setdefault(f"overlays/{parts[1]}", "gpu" if parts[1].startswith("gpu") else "cpu")
    return out


def check_tree(r, tree, parse_errors=(), bin_dir=None, with_kubectl=False):
    for rel, err in parse_errors:
        r.fail(rel, "(parse)", f"valid YAML: {err}")
    patches = patch_files(tree)
    secret_doc = None
    for rel in sorted(tree):
        if is_kustomization(rel):
            check_kustomization(r, tree, rel)
            continue
        if rel in patches:
            ops = tree[rel][0] if len(tree[rel]) == 1 else None
            r.check(isinstance(ops, list) and all(isinstance(o, dict) and "op" in o and "path" in o for o in ops),
                    f"{rel}#0", "(patch)", "one document: a list of JSON 6902 operations (op, path)",
                    f"JSON 6902 patch, {len(ops) if isinstance(ops, list) else 0} operations")
            continue
        if not r.check(bool(tree[rel]), rel, "(file)", "at least one document"):
            continue
        for i, obj in enumerate(tree[rel]):
            doc = Doc(rel, i, obj)
            check_object(r, doc)
            if doc.kind == "Secret" and doc.name == TOKEN_SECRET:
                secret_doc = doc
    # What base/kustomization.yaml applies: every manifest of base/ except the templates.
    kb = (tree.get("base/kustomization.yaml") or [{}])[0] or {}
    listed = {posixpath.normpath(posixpath.join("base", x)) for x in kb.get("resources") or []}
    for rel in sorted(tree):
        if rel.startswith("base/") and not is_kustomization(rel) and rel not in patches:
            if rel.endswith(TEMPLATE_SUFFIX):
                r.check(rel not in listed, "base/kustomization.yaml", "resources",
                        f"not to list {rel} (a template: applying it would overwrite the real token)",
                        f"{rel} is a template, not applied")
            else:
                r.check(rel in listed, "base/kustomization.yaml", "resources", f"to list {rel} (or name it *{TEMPLATE_SUFFIX})",
                        f"{rel} is applied")
    r.check(secret_doc is not None, "deploy/k8s", "Secret", f"a template of Secret {TOKEN_SECRET}",
            f"token Secret template: {secret_doc.file if secret_doc else '-'}")
    rendered = []
    for kdir, flavour in sorted(flavours(tree).items()):
        if f"{kdir}/kustomization.yaml" not in tree:
            r.fail(kdir, "kustomization.yaml", "to exist")
            continue
        try:
            docs = render(tree, kdir, r)
        except RenderError as e:
            r.fail(f"render({kdir})", "(render)", str(e))
            continue
        for d in docs:
            check_object(_Silent(r), d)  # per-kind checks again on the patched objects (failures only)
        check_render(r, kdir, docs, flavour, secret_doc)
        rendered += docs
        if with_kubectl:
            compare_with_kubectl(r, kdir, docs, flavour, secret_doc)
    if bin_dir:
        check_flags_exist(r, rendered, bin_dir)


class _Silent:
    """Forwards failures of per-kind checks on rendered objects, without repeating their passes."""

    def __init__(self, r):
        self.r = r

    def ok(self, where, what):
        pass

    def fail(self, where, keypath, expected):
        if f"{where} {keypath}: {expected}" not in self.r.failures:  # not already reported for the source file
            self.r.fail("rendered " + where, keypath, expected)

    def check(self, cond, where, keypath, expected, what=None):
        if not cond:
            self.fail(where, keypath, expected)
        return cond


def first_difference(a, b, path=""):
    if type(a) is not type(b):
        return f"{path or '.'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'kubectl' if k in b else 'this checker'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
    elif isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
    elif a != b:
        return f"{path}: {a!r} != {b!r}"
    return None


def compare_with_kubectl(r, kdir, docs, flavour, secret_doc):
    where = f"kubectl kustomize {kdir}"
    try:
        p = subprocess.run(["kubectl", "kustomize", os.path.join(HERE, kdir)], capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        r.fail(where, "(run)", f"kubectl to run: {e}")
        return
    if not r.check(p.returncode == 0, where, "(exit status)", f"0, got {p.returncode}: {p.stderr.strip()[:500]}",
                   "renders"):
        return
    theirs = [Doc(f"kubectl:{kdir}", i, d) for i, d in enumerate(yaml.safe_load_all(p.stdout)) if d]
    key = lambda d: (d.obj.get("apiVersion"), d.kind, get(d.obj, "metadata.namespace", ""), d.name)
    mine = {key(d): d.obj for d in docs}
    other = {key(d): d.obj for d in theirs}
    r.check(set(mine) == set(other), where, "(objects)", f"the same objects as this checker's render: "
            f"only here {sorted(set(mine) - set(other))}, only in kubectl {sorted(set(other) - set(mine))}",
            f"same {len(other)} objects as this checker's render")
    for k in sorted(set(mine) & set(other), key=str):
        diff = first_difference(mine[k], other[k])
        r.check(diff is None, where, f"{k[1]}/{k[3]}", f"the same content as this checker's render: {diff}",
                f"{k[1]}/{k[3]} identical to this checker's render")
    check_render(r, f"kubectl:{kdir}", theirs, flavour, secret_doc)


def self_checks(tree):
    """Breaks copies of the manifests on purpose; each breakage must be reported. [(name, ok, detail)]."""
    def find(t, rel, kind, name=None):
        for d in t[rel]:
            if isinstance(d, dict) and d.get("kind") == kind and (name is None or get(d, "metadata.name") == name):
                return d
        raise KeyError(f"{rel}: no {kind}/{name}")

    def mpijob(t):
        return find(t, "base/workers-mpijob.yaml", "MPIJob")

    def sts(t):
        return find(t, "base/coordinator.yaml", "StatefulSet")

    def launcher_cmd(t):
        return get(mpijob(t), "spec.mpiReplicaSpecs.Launcher.template.spec.containers.0.command")

    def set_flag(cmd, flag, value):
        cmd[cmd.index(flag) + 1] = value

    def cpu_overlay_ops(t):
        return t["overlays/cpu/workers.yaml"][0]

    breakages = [
        ("StatefulSet selector does not match its template labels", "spec.template.metadata.labels",
         lambda t: sts(t)["spec"]["template"]["metadata"]["labels"].update({"app.kubernetes.io/component": "other"})),
        ("worker container without an image", ".image",
         lambda t: get(mpijob(t), "spec.mpiReplicaSpecs.Worker.template.spec.containers.0").pop("image")),
        ("overlay patch whose target does not exist", "is not among the resources",
         lambda t: t["overlays/cpu/kustomization.yaml"][0]["patches"][0]["target"].update({"name": "tutti-workerz"})),
        ("overlay patch file that does not exist", "does not exist",
         lambda t: t["overlays/gpu/kustomization.yaml"][0]["patches"][0].update({"path": "missing.yaml"})),
        ("--token-file that is not the mounted Secret key", "--token-file",
         lambda t: set_flag(launcher_cmd(t), "--token-file", "/etc/tutti/token/other")),
        ("token Secret without the key the pods read", "token Secret",
         lambda t: t["base/token-secret.template.yaml"][0].update({"stringData": {"other": "x"}})),
        ("token volume naming another Secret", "secretName",
         lambda t: get(sts(t), "spec.template.spec.volumes.0.secret").update({"secretName": "other-token"})),
        ("probe with two handlers", "exactly one handler",
         lambda t: get(sts(t), "spec.template.spec.containers.0.livenessProbe").update({"tcpSocket": {"port": 7070}})),
        ("grpc probe on a port the container does not declare", "grpc.port",
         lambda t: get(sts(t), "spec.template.spec.containers.0.readinessProbe.grpc").update({"port": 7071})),
        ("--coordinator with the wrong namespace", "--coordinator",
         lambda t: set_flag(launcher_cmd(t), "--coordinator", "tutti-coordinator.default.svc:7070")),
        ("-np that is not replicas x slots", "-np",
         lambda t: mpijob(t)["spec"]["mpiReplicaSpecs"]["Worker"].update({"replicas": 3})),
        ("Service selector that matches no pod", "spec.selector",
         lambda t: find(t, "base/coordinator.yaml", "Service", "tutti-coordinator")["spec"]["selector"].update(
             {"app.kubernetes.io/component": "nothing"})),
        ("GPU requested in the cpu overlay", "nvidia.com/gpu",
         lambda t: cpu_overlay_ops(t)[0]["value"]["limits"].update({"nvidia.com/gpu": 1})),
        ("mount of a volume that does not exist", "volumeMounts",
         lambda t: get(mpijob(t), "spec.mpiReplicaSpecs.Worker.template.spec.containers.0.volumeMounts").append(
             {"name": "nope", "mountPath": "/nope"})),
        ("MPIJob with an unknown mpiImplementation", "mpiImplementation",
         lambda t: mpijob(t)["spec"].update({"mpiImplementation": "LAM"})),
        ("the token Secret template listed as a resource", "template",
         lambda t: t["base/kustomization.yaml"][0]["resources"].append("token-secret.template.yaml")),
        ("terminationGracePeriodSeconds shorter than --grace", "terminationGracePeriodSeconds",
         lambda t: sts(t)["spec"]["template"]["spec"].update({"terminationGracePeriodSeconds": 5})),
    ]
    results = []
    for name, expect, breakit in breakages:
        broken = copy.deepcopy(tree)
        try:
            breakit(broken)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
            results.append((name, False, f"could not break the manifests this way ({e}); update the self-check"))
            continue
        quiet = Report(quiet=True)
        check_tree(quiet, broken)
        hits = [f for f in quiet.failures if expect in f]
        results.append((name, bool(hits), hits[0] if hits else
                        f"no failure mentioning {expect!r}; got {quiet.failures[:3] or 'none'}"))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"),
                    help="where tutti-coordinator and tutti-worker are (their --help is compared with the flags used)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print failures and the summary only")
    a = ap.parse_args()
    r = Report(quiet=a.quiet)
    tree, errors = load_tree(HERE)
    r.check(bool(tree), HERE, "(files)", "YAML files under deploy/k8s")
    if not a.quiet:
        for rel in sorted(tree):
            print(f"file  {rel}: {len(tree[rel])} document(s)")
    kubectl = shutil.which("kubectl") is not None
    if not kubectl:
        print("skip  kubectl kustomize: kubectl is not installed (this checker's own render is used alone)")
    check_tree(r, tree, errors, a.bin_dir, with_kubectl=kubectl)
    for name, ok, detail in self_checks(tree):
        r.check(ok, "self-check", name, f"to be reported: {detail}", f"{name}: reported ({detail})")
    print(f"{r.passed} passed, {len(r.failures)} failed")
    if r.failures:
        print("FAILED:", file=sys.stderr)
        for f in r.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
