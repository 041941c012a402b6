#!/usr/bin/env python3
"""Checks rendered Ringside manifests against the production rules of the
cluster-management guide (section 1), beyond what the Kubernetes schemas
can say:

- every pod template: `ringside-role` node selector for its component, and
  requests equal to limits for CPU and memory in every container and init
  container (the Guaranteed QoS class); readiness and liveness probes on
  named ports that exist;
- workers: required anti-affinity on the node name, page store and identity
  file on host paths, rolling updates in batches of 10%, a grace period
  long enough to finish reads in flight, and a per-pod advertised address;
- coordinator: a StatefulSet whose volumeClaimTemplate is mounted where
  ringside.coordinator.metastore.dir points, behind the Service that
  ringside.coordinator.address names;
- etcd: three replicas behind a headless Service, all listed in
  ringside.etcd.endpoints, with ETCD membership;
- the site file: `key=value` lines whose keys all exist in
  config/src/schema.rs, as do the keys of every `--set`;
- one namespace for everything, declared in the render.

Usage:
  check_manifests.py RENDERED.yaml...           check; exit 1 on any error
  check_manifests.py --self-test RENDERED.yaml  break the manifests one rule
                                                at a time; exit 1 unless
                                                every break is caught
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

import yaml

REPO = Path(__file__).resolve().parent.parent
SCHEMA_RS = REPO / "config" / "src" / "schema.rs"
SITE_FILE = "ringside-site.properties"
ROLES = ("coordinator", "worker", "etcd", "console")
COMPONENT_LABEL = "app.kubernetes.io/component"
ROLE_LABEL = "ringside-role"
ETCD_REPLICAS = 3
WORKER_MAX_UNAVAILABLE = "10%"
WORKER_MIN_GRACE_SECONDS = 60
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


# ---------------------------------------------------------------- helpers

_SUFFIX = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def quantity(value) -> Decimal | None:
    """A Kubernetes resource quantity as a number, or None if malformed."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2) or ""])
    except InvalidOperation:
        return None


def schema_keys(path: Path = SCHEMA_RS) -> set[str]:
    """Every property name of the schema table: `IDENT: T = "ringside.x" {`."""
    text = path.read_text(encoding="utf-8")
    keys = set(re.findall(r'^\s*[A-Z0-9_]+:\s*[^=\n]+=\s*"(ringside\.[a-z0-9.]+)"\s*\{', text, re.M))
    if len(keys) < 10:
        raise SystemExit(f"check_manifests: found only {len(keys)} property keys in {path}; has its layout changed?")
    return keys


def parse_properties(text: str, where: str, known: set[str], errors: list[str]) -> dict[str, str]:
    """`key=value` lines (with `#`/`!` comments and `\\` continuations),
    each key known to the schema and given once."""
    props: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1 and i < len(lines):
            line = line[:-1] + lines[i].strip()
            i += 1
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or ":" in key or " " in key:
            errors.append(f"{where}:{number}: not a key=value line: {line[:80]!r}")
            continue
        if key not in known:
            errors.append(f"{where}:{number}: unknown property {key} (not in config/src/schema.rs)")
        if key in props:
            errors.append(f"{where}:{number}: property {key} given twice")
        props[key] = value.strip()
    return props


def name_of(doc) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def pod_template(doc):
    kind = doc.get("kind")
    if kind in POD_TEMPLATE_KINDS:
        return doc.get("spec", {}).get("template")
    if kind == "CronJob":
        return doc.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
    if kind == "Pod":
        return doc
    return None


def under(path: str, directory: str) -> bool:
    path, directory = path.rstrip("/"), directory.rstrip("/")
    return path == directory or path.startswith(directory + "/")


def mount_for(path: str, container, volumes: dict):
    """The (mount, volume) whose mountPath holds `path`, deepest first."""
    best = None
    for mount in container.get("volumeMounts", []) or []:
        if under(path, mount.get("mountPath", "")) and (
            best is None or len(mount["mountPath"]) > len(best[0]["mountPath"])
        ):
            best = (mount, volumes.get(mount.get("name")))
    return best


def env_value(container, name: str):
    for env in container.get("env", []) or []:
        if env.get("name") == name:
            return env
    return None


def set_overrides(container) -> list[str]:
    """The KEY=VALUE of every `--set` in command and args."""
    argv = list(container.get("command", []) or []) + list(container.get("args", []) or [])
    out = []
    for i, arg in enumerate(argv):
        if arg == "--set" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--set="):
            out.append(arg[len("--set=") :])
    return out


def same_selector(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ----------------------------------------------------------------- checks


class Checker:
    def __init__(self, docs: list, known: set[str], label: str):
        self.docs = [d for d in docs if isinstance(d, dict)]
        self.known = known
        self.label = label
        self.errors: list[str] = []
        self.stats = {"objects": len(self.docs), "workloads": 0, "containers": 0, "properties": 0}

    def error(self, where: str, message: str):
        self.errors.append(f"{self.label}: {where}: {message}")

    def run(self) -> list[str]:
        self.check_namespaces()
        self.site = self.check_site_files()
        workloads: dict[str, list] = {role: [] for role in ROLES}
        for doc in self.docs:
            template = pod_template(doc)
            if template is None:
                continue
            self.stats["workloads"] += 1
            labels = template.get("metadata", {}).get("labels", {}) or {}
            role = labels.get(COMPONENT_LABEL)
            if role not in ROLES:
                self.error(name_of(doc), f"pod template label {COMPONENT_LABEL}={role!r} is none of {', '.join(ROLES)}")
            else:
                workloads[role].append(doc)
            self.check_pod(doc, template, role)
        for role in ROLES:
            if not workloads[role]:
                self.error("render", f"no workload for the {role}")
        for doc in workloads["worker"]:
            self.check_worker(doc)
        for doc in workloads["coordinator"]:
            self.check_coordinator(doc)
        for doc in workloads["etcd"]:
            self.check_etcd(doc)
        return self.errors

    # -- everything

    def check_namespaces(self):
        declared = {d["metadata"]["name"] for d in self.docs if d.get("kind") == "Namespace"}
        used = {}
        for doc in self.docs:
            if doc.get("kind") in CLUSTER_SCOPED:
                continue
            ns = doc.get("metadata", {}).get("namespace")
            used.setdefault(ns, []).append(name_of(doc))
        if len(used) != 1 or None in used:
            spread = "; ".join(f"{ns or '(none)'}: {', '.join(names[:3])}" for ns, names in used.items())
            self.error("render", f"objects must share one namespace, found {spread}")
        for ns in used:
            if ns is not None and ns not in declared:
                self.error("render", f"namespace {ns} is used but no Namespace object declares it")

    def check_site_files(self) -> dict[str, dict[str, str]]:
        """ConfigMap name -> its parsed ringside-site.properties."""
        sites = {}
        for doc in self.docs:
            if doc.get("kind") != "ConfigMap":
                continue
            text = (doc.get("data") or {}).get(SITE_FILE)
            if text is None:
                continue
            errors: list[str] = []
            props = parse_properties(text, f"{name_of(doc)}/{SITE_FILE}", self.known, errors)
            for message in errors:
                self.errors.append(f"{self.label}: {message}")
            self.stats["properties"] += len(props)
            sites[doc["metadata"]["name"]] = props
        if not sites:
            self.error("render", f"no ConfigMap holds {SITE_FILE}")
        return sites

    # -- every pod

    def check_pod(self, doc, template, role):
        where = name_of(doc)
        spec = template.get("spec", {}) or {}
        selector = spec.get("nodeSelector", {}) or {}
        if selector.get(ROLE_LABEL) != role:
            self.error(where, f"nodeSelector {ROLE_LABEL} is {selector.get(ROLE_LABEL)!r}, expected {role!r}")
        containers = spec.get("containers", []) or []
        init = spec.get("initContainers", []) or []
        for container in init + containers:
            self.stats["containers"] += 1
            self.check_resources(f"{where} container {container.get('name')}", container)
            image = str(container.get("image", ""))
            if not image or image.endswith(":latest") or ("@" not in image and ":" not in image.split("/")[-1]):
                self.error(f"{where} container {container.get('name')}", f"image {image!r} has no pinned tag")
        for container in containers:
            cwhere = f"{where} container {container.get('name')}"
            ports = {p.get("name") for p in container.get("ports", []) or [] if p.get("name")}
            for probe_kind in ("readinessProbe", "livenessProbe"):
                probe = container.get(probe_kind)
                if not probe:
                    self.error(cwhere, f"no {probe_kind}")
                    continue
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    port = (probe.get(handler) or {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        self.error(cwhere, f"{probe_kind} uses port {port!r}, which the container does not name")
            volumes = {v.get("name") for v in spec.get("volumes", []) or []}
            claims = {
                t.get("metadata", {}).get("name")
                for t in (doc.get("spec", {}).get("volumeClaimTemplates") or [])
            }
            for mount in container.get("volumeMounts", []) or []:
                if mount.get("name") not in volumes | claims:
                    self.error(cwhere, f"mounts volume {mount.get('name')!r}, which the pod does not have")
            for override in set_overrides(container):
                key = override.partition("=")[0]
                if key not in self.known:
                    self.error(cwhere, f"--set {key}: unknown property (not in config/src/schema.rs)")

    def check_resources(self, where, container):
        resources = container.get("resources", {}) or {}
        requests = resources.get("requests", {}) or {}
        limits = resources.get("limits", {}) or {}
        for resource in ("cpu", "memory"):
            req, lim = requests.get(resource), limits.get(resource)
            if req is None or lim is None:
                self.error(where, f"{resource}: requests and limits must both be set (Guaranteed QoS)")
                continue
            a, b = quantity(req), quantity(lim)
            if a is None or b is None:
                self.error(where, f"{resource}: malformed quantity {req!r} or {lim!r}")
            elif a != b:
                self.error(where, f"{resource}: requests {req} differ from limits {lim} (Guaranteed QoS needs them equal)")

    # -- the daemons that read the site file

    def site_of(self, doc, container) -> dict[str, str] | None:
        """The properties the container reads from its RINGSIDE_CONF_DIR."""
        where = f"{name_of(doc)} container {container.get('name')}"
        spec = pod_template(doc)["spec"]
        volumes = {v.get("name"): v for v in spec.get("volumes", []) or []}
        env = env_value(container, "RINGSIDE_CONF_DIR")
        argv = list(container.get("command", []) or []) + list(container.get("args", []) or [])
        conf_dir = None
        if "--conf" in argv[:-1]:
            conf_dir = argv[argv.index("--conf") + 1]
        elif env is not None:
            conf_dir = env.get("value")
        if not conf_dir:
            self.error(where, "no configuration directory: set RINGSIDE_CONF_DIR or --conf")
            return None
        found = mount_for(conf_dir, container, volumes)
        if not found or found[0]["mountPath"].rstrip("/") != conf_dir.rstrip("/"):
            self.error(where, f"configuration directory {conf_dir} is not a mounted volume")
            return None
        cm = ((found[1] or {}).get("configMap") or {}).get("name")
        if cm not in self.site:
            self.error(where, f"configuration directory {conf_dir} is not a ConfigMap holding {SITE_FILE}")
            return None
        return self.site[cm]

    def main_container(self, doc, role):
        containers = pod_template(doc)["spec"].get("containers", []) or []
        for container in containers:
            argv = list(container.get("command", []) or []) + list(container.get("args", []) or [])
            if role in argv:
                return container
        return containers[0] if containers else None

    def check_worker(self, doc):
        where = name_of(doc)
        template = pod_template(doc)
        spec = template["spec"]
        labels = template.get("metadata", {}).get("labels", {}) or {}
        terms = (((spec.get("affinity") or {}).get("podAntiAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )) or []
        if not any(
            t.get("topologyKey") == "kubernetes.io/hostname"
            and same_selector((t.get("labelSelector") or {}).get("matchLabels") or {}, labels)
            for t in terms
        ):
            self.error(where, "workers need a required podAntiAffinity on kubernetes.io/hostname selecting the workers")
        if doc["kind"] == "Deployment":
            strategy = doc["spec"].get("strategy") or {}
            rolling = strategy.get("rollingUpdate") or {}
            if strategy.get("type", "RollingUpdate") != "RollingUpdate" or str(rolling.get("maxUnavailable")) != WORKER_MAX_UNAVAILABLE:
                self.error(where, f"rollingUpdate.maxUnavailable must be {WORKER_MAX_UNAVAILABLE}")
            if str(rolling.get("maxSurge")) not in ("0", "0%"):
                self.error(where, "rollingUpdate.maxSurge must be 0: one worker per node leaves no node for a surge pod")
        elif doc["kind"] == "DaemonSet":
            rolling = (doc["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
            if str(rolling.get("maxUnavailable")) != WORKER_MAX_UNAVAILABLE:
                self.error(where, f"updateStrategy.rollingUpdate.maxUnavailable must be {WORKER_MAX_UNAVAILABLE}")
        else:
            self.error(where, "workers run as a Deployment or a DaemonSet")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace < WORKER_MIN_GRACE_SECONDS:
            self.error(where, f"terminationGracePeriodSeconds {grace} < {WORKER_MIN_GRACE_SECONDS}: too short to finish reads in flight")
        container = self.main_container(doc, "worker")
        if container is None:
            return
        site = self.site_of(doc, container)
        if site is None:
            return
        volumes = {v.get("name"): v for v in spec.get("volumes", []) or []}
        host_dirs = []
        for key, what in (
            ("ringside.worker.pagestore.dir", "page store"),
            ("ringside.worker.identity.uuid.file.path", "identity file"),
        ):
            path = site.get(key)
            if not path:
                self.error(where, f"{key} is not set: the {what} would be in the container's /tmp")
                continue
            found = mount_for(path, container, volumes)
            if not found or not (found[1] or {}).get("hostPath"):
                self.error(where, f"{key}={path} is not on a hostPath volume: the {what} would not survive a restart")
            else:
                host_dirs.append(found[1]["hostPath"]["path"])
        if len(host_dirs) == 2 and host_dirs[0] == host_dirs[1]:
            self.error(where, "page store and identity share a host path")
        # Every worker must register under its own address.
        hostname = [o for o in set_overrides(container) if o.startswith("ringside.worker.hostname=")]
        value = hostname[-1].partition("=")[2] if hostname else site.get("ringside.worker.hostname")
        var = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value or "")
        env = env_value(container, var.group(1)) if var else None
        field = (((env or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if field not in ("status.podIP", "spec.nodeName", "metadata.name"):
            self.error(
                where,
                f"ringside.worker.hostname is {value!r}: give each worker its own address, "
                "e.g. --set ringside.worker.hostname=$(POD_IP) with POD_IP from status.podIP",
            )

    def check_coordinator(self, doc):
        where = name_of(doc)
        if doc["kind"] != "StatefulSet":
            self.error(where, "the coordinator runs as a StatefulSet, for its metastore volume")
            return
        container = self.main_container(doc, "coordinator")
        site = self.site_of(doc, container) if container else None
        if site is None:
            return
        claims = {t.get("metadata", {}).get("name") for t in doc["spec"].get("volumeClaimTemplates") or []}
        metastore = site.get("ringside.coordinator.metastore.dir")
        if not metastore:
            self.error(where, "ringside.coordinator.metastore.dir is not set: the metastore would be in /tmp")
        else:
            found = mount_for(metastore, container, {})
            if not found or found[0].get("name") not in claims:
                self.error(
                    where,
                    f"ringside.coordinator.metastore.dir={metastore} is not on a volumeClaimTemplate's volume",
                )
        address = site.get("ringside.coordinator.address")
        if address:
            url = urlparse(address)
            service_name = (url.hostname or "").split(".")[0]
            labels = pod_template(doc).get("metadata", {}).get("labels", {}) or {}
            services = [
                d for d in self.docs
                if d.get("kind") == "Service" and d["metadata"].get("name") == service_name
            ]
            if not services or not same_selector(services[0].get("spec", {}).get("selector") or {}, labels):
                self.error(where, f"ringside.coordinator.address {address}: no Service {service_name} selects the coordinator")
            elif url.port and url.port not in [p.get("port") for p in services[0]["spec"].get("ports", [])]:
                self.error(where, f"ringside.coordinator.address {address}: Service {service_name} has no port {url.port}")

    def check_etcd(self, doc):
        where = name_of(doc)
        if doc["kind"] != "StatefulSet":
            self.error(where, "etcd runs as a StatefulSet, for stable member names and volumes")
            return
        replicas = doc["spec"].get("replicas", 1)
        if replicas != ETCD_REPLICAS:
            self.error(where, f"replicas {replicas}, expected {ETCD_REPLICAS} for quorum")
        if doc["spec"].get("podManagementPolicy") != "Parallel":
            self.error(where, "podManagementPolicy must be Parallel: members wait for each other's quorum")
        service = doc["spec"].get("serviceName")
        headless = [
            d for d in self.docs
            if d.get("kind") == "Service" and d["metadata"].get("name") == service
            and d.get("spec", {}).get("clusterIP") == "None"
        ]
        if not headless:
            self.error(where, f"serviceName {service!r} is not a headless Service in the render")
        name = doc["metadata"]["name"]
        members = {f"{name}-{i}.{service}" for i in range(replicas)}
        for cm, site in self.site.items():
            if (site.get("ringside.worker.membership.manager.type") or "").upper() != "ETCD":
                self.error(f"ConfigMap/{cm}", "ringside.worker.membership.manager.type must be ETCD with an etcd deployed")
            endpoints = [e.strip() for e in (site.get("ringside.etcd.endpoints") or "").split(",") if e.strip()]
            hosts = set()
            for endpoint in endpoints:
                host = urlparse(endpoint).hostname or ""
                hosts.update(m for m in members if host == m or host.startswith(m + "."))
            if hosts != members:
                self.error(
                    f"ConfigMap/{cm}",
                    f"ringside.etcd.endpoints must list every member ({', '.join(sorted(members))}), has {endpoints}",
                )


def check(docs, known, label) -> tuple[list[str], dict]:
    checker = Checker(docs, known, label)
    return checker.run(), checker.stats


# -------------------------------------------------------------- self-test


def find(docs, kind, component):
    for doc in docs:
        template = pod_template(doc) if doc.get("kind") == kind else None
        if template and template.get("metadata", {}).get("labels", {}).get(COMPONENT_LABEL) == component:
            return doc
    raise SystemExit(f"self-test: the render has no {kind} for the {component}")


def spec_of(docs, kind, component):
    return pod_template(find(docs, kind, component))["spec"]


def worker(docs):
    for kind in ("Deployment", "DaemonSet"):
        try:
            return find(docs, kind, "worker")
        except SystemExit:
            continue
    raise SystemExit("self-test: the render has no worker workload")


def site_cm(docs):
    return next(d for d in docs if d.get("kind") == "ConfigMap" and SITE_FILE in (d.get("data") or {}))


def edit_site(docs, fn):
    cm = site_cm(docs)
    cm["data"][SITE_FILE] = fn(cm["data"][SITE_FILE])


def set_line(text, key, value):
    return re.sub(rf"^{re.escape(key)}=.*$", f"{key}={value}", text, flags=re.M)


def first_container(spec):
    return spec["containers"][0]


def host_to_empty_dir(docs, volume):
    for v in pod_template(worker(docs))["spec"]["volumes"]:
        if v["name"] == volume:
            v.pop("hostPath", None)
            v["emptyDir"] = {}


def worker_volume_for(docs, key):
    text = site_cm(docs)["data"][SITE_FILE]
    path = re.search(rf"^{re.escape(key)}=(.*)$", text, re.M).group(1).strip()
    container = first_container(pod_template(worker(docs))["spec"])
    return mount_for(path, container, {})[0]["name"]


# Each breaks one rule; the checker must then report an error containing
# the given text.
MUTATIONS = [
    ("worker memory limit above its request", "memory: requests",
     lambda d: first_container(pod_template(worker(d))["spec"])["resources"]["limits"].update(memory="999Gi")),
    ("coordinator without CPU limits", "cpu: requests and limits",
     lambda d: first_container(spec_of(d, "StatefulSet", "coordinator"))["resources"].pop("limits")),
    ("init container without resources", "requests and limits must both be set",
     lambda d: pod_template(worker(d))["spec"]["initContainers"][0].pop("resources")
     if pod_template(worker(d))["spec"].get("initContainers")
     else pod_template(worker(d))["spec"].setdefault("initContainers", [{"name": "x", "image": "busybox:1"}])),
    ("console without its node selector", "nodeSelector ringside-role",
     lambda d: spec_of(d, "Deployment", "console").pop("nodeSelector")),
    ("etcd on worker nodes", "nodeSelector ringside-role",
     lambda d: spec_of(d, "StatefulSet", "etcd")["nodeSelector"].update({ROLE_LABEL: "worker"})),
    ("workers without anti-affinity", "podAntiAffinity",
     lambda d: pod_template(worker(d))["spec"].pop("affinity")),
    ("page store on an emptyDir", "ringside.worker.pagestore.dir",
     lambda d: host_to_empty_dir(d, worker_volume_for(d, "ringside.worker.pagestore.dir"))),
    ("identity on an emptyDir", "ringside.worker.identity.uuid.file.path",
     lambda d: host_to_empty_dir(d, worker_volume_for(d, "ringside.worker.identity.uuid.file.path"))),
    ("identity file moved off its host path", "ringside.worker.identity.uuid.file.path",
     lambda d: edit_site(d, lambda t: set_line(t, "ringside.worker.identity.uuid.file.path", "/tmp/identity"))),
    ("workers updated all at once", "maxUnavailable",
     lambda d: worker(d)["spec"].setdefault("strategy", {}).setdefault("rollingUpdate", {}).update(maxUnavailable="100%")
     if worker(d)["kind"] == "Deployment"
     else worker(d)["spec"].setdefault("updateStrategy", {}).setdefault("rollingUpdate", {}).update(maxUnavailable="100%")),
    ("worker grace period of 5 s", "terminationGracePeriodSeconds",
     lambda d: pod_template(worker(d))["spec"].update(terminationGracePeriodSeconds=5)),
    ("every worker advertising one address", "ringside.worker.hostname",
     lambda d: first_container(pod_template(worker(d))["spec"]).update(
         command=[a.replace("$(POD_IP)", "10.0.0.1") for a in first_container(pod_template(worker(d))["spec"]).get("command", [])],
         args=[a.replace("$(POD_IP)", "10.0.0.1") for a in first_container(pod_template(worker(d))["spec"]).get("args", []) or []])),
    ("worker without readiness probe", "no readinessProbe",
     lambda d: first_container(pod_template(worker(d))["spec"]).pop("readinessProbe")),
    ("coordinator without volumeClaimTemplates", "volumeClaimTemplate",
     lambda d: find(d, "StatefulSet", "coordinator")["spec"].pop("volumeClaimTemplates")),
    ("metastore outside its volume", "ringside.coordinator.metastore.dir",
     lambda d: edit_site(d, lambda t: set_line(t, "ringside.coordinator.metastore.dir", "/tmp/metastore"))),
    ("etcd with one replica", "replicas 1",
     lambda d: find(d, "StatefulSet", "etcd")["spec"].update(replicas=1)),
    ("an etcd member missing from the endpoints", "ringside.etcd.endpoints",
     lambda d: edit_site(d, lambda t: re.sub(r"^(ringside\.etcd\.endpoints=[^,\n]*),.*$", r"\1", t, flags=re.M))),
    ("an unknown property", "unknown property ringside.worker.pagestore.sise",
     lambda d: edit_site(d, lambda t: t + "ringside.worker.pagestore.sise=1GiB\n")),
    ("a line that is not key=value", "not a key=value line",
     lambda d: edit_site(d, lambda t: t + "ringside.worker.port 29999\n")),
    ("a property given twice", "given twice",
     lambda d: edit_site(d, lambda t: t + "ringside.cluster.name=again\n")),
    ("an unknown --set key", "--set ringside.worker.hostnme",
     lambda d: first_container(pod_template(worker(d))["spec"]).update(
         command=[a.replace("ringside.worker.hostname=", "ringside.worker.hostnme=") for a in first_container(pod_template(worker(d))["spec"]).get("command", [])],
         args=[a.replace("ringside.worker.hostname=", "ringside.worker.hostnme=") for a in first_container(pod_template(worker(d))["spec"]).get("args", []) or []])),
    ("a ConfigMap left out of the namespace", "share one namespace",
     lambda d: site_cm(d)["metadata"].pop("namespace")),
]


def self_test(docs, known) -> int:
    errors, _ = check(docs, known, "self-test")
    if errors:
        print("self-test: the unbroken manifests already fail:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    missed = []
    for title, expected, mutate in MUTATIONS:
        broken = copy.deepcopy(docs)
        mutate(broken)
        errors, _ = check(broken, known, "self-test")
        if not any(expected in e for e in errors):
            missed.append(f"{title}: expected an error containing {expected!r}, got {errors or 'none'}")
    if missed:
        print("self-test: the checker let broken manifests through:", *missed, sep="\n  ", file=sys.stderr)
        return 1
    print(f"check_manifests self-test: {len(MUTATIONS)} broken manifests, each caught")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="rendered manifests (kubectl kustomize output)")
    parser.add_argument("--self-test", action="store_true", help="break the manifests one rule at a time and expect each caught")
    parser.add_argument("--schema", type=Path, default=SCHEMA_RS, help="config/src/schema.rs")
    args = parser.parse_args()
    known = schema_keys(args.schema)
    status = 0
    for path in args.files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        if args.self_test:
            status |= self_test(docs, known)
            continue
        errors, stats = check(docs, known, path.name)
        for message in errors:
            print(message, file=sys.stderr)
        if errors:
            status = 1
            print(f"check_manifests: {path}: {len(errors)} errors", file=sys.stderr)
        else:
            print(
                f"check_manifests: {path.name}: {stats['objects']} objects, {stats['workloads']} workloads, "
                f"{stats['containers']} containers, {stats['properties']} properties: production rules hold"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
