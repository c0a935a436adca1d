"""Are the production hub examples (hub_config/examples/) valid, and consistent with course_config.py?

Offline: the Helm values are checked against the keys the z2jh chart documents (its values.schema.yaml, chart
4.x; listed below), their hub.extraConfig snippets are run as the chart's jupyterhub_config.py runs them, and
the LTI / OAuth fragments are executed against a traitlets Config. Where the real packages are importable
(oauthenticator, jupyterhub-ltiauthenticator, jupyterhub-kubespawner, ngshare_exchange) they are checked
against them too; `helm template` runs only when `helm` and a local chart (Z2JH_CHART=path) are available.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import Config

from aiml_course.config import Course, load_course
from aiml_course.hub.roster import ROLES, Member, hub_groups

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "hub_config" / "examples"
COURSE: Course = load_course(ROOT / "course_config.py")

LTI_ENV = {
    "LTI13_ISSUER": "https://canvas.instructure.com",
    "LTI13_CLIENT_ID": "10000000000001, 10000000000002",
    "LTI13_AUTHORIZE_URL": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "LTI13_JWKS_ENDPOINT": "https://sso.canvaslms.com/api/lti/security/jwks",
    "LTI13_CONTEXTS": "ctx-2026a=2026a, ctx-2026b=2026b",
}
OAUTH_ENV = {
    "OAUTH_CLIENT_ID": "hub-client",
    "OAUTH_CLIENT_SECRET": "s3cret",
    "OAUTH_CALLBACK_URL": "https://hub.example.org/hub/oauth_callback",
    "OAUTH2_AUTHORIZE_URL": "https://idp.example.org/auth",
    "OAUTH2_TOKEN_URL": "https://idp.example.org/token",
    "OAUTH2_USERDATA_URL": "https://idp.example.org/userinfo",
    "COURSE_GITHUB_ORG": "aiml-course",
}

# ---------------------------------------------------------------- the chart's documented keys
# From jupyterhub/values.schema.yaml of the z2jh chart (4.x), for the sections these examples use. A dict lists
# a section's keys (the schema has additionalProperties: false there); None marks a free-form value.

_IMAGE = {"name": None, "tag": None, "pullPolicy": None, "pullSecrets": None}
_NETPOL = {k: None for k in ("enabled", "ingress", "egress", "egressAllowRules", "interNamespaceAccessLabels",
                             "allowedIngressPorts")}
_AFFINITY = {"tolerations": None, "nodeAffinity": {"matchNodePurpose": None}}
CHART_KEYS: dict[str, Any] = {
    "enabled": None, "fullnameOverride": None, "nameOverride": None, "imagePullSecret": None,
    "imagePullSecrets": None, "ingress": None, "httpRoute": None, "custom": None, "debug": None, "rbac": None,
    "global": None,
    "hub": {
        **{k: None for k in (
            "revisionHistoryLimit", "config", "extraFiles", "baseUrl", "command", "args", "cookieSecret", "db",
            "labels", "initContainers", "extraEnv", "extraConfig", "fsGid", "service", "pdb", "existingSecret",
            "nodeSelector", "tolerations", "activeServerLimit", "allowNamedServers", "annotations",
            "authenticatePrometheus", "concurrentSpawnLimit", "consecutiveFailureLimit", "podSecurityContext",
            "containerSecurityContext", "deploymentStrategy", "extraContainers", "extraVolumeMounts",
            "extraVolumes", "livenessProbe", "readinessProbe", "namedServerLimitPerUser", "redirectToServer",
            "resources", "lifecycle", "services", "loadRoles", "shutdownOnLogout", "templatePaths",
            "templateVars", "serviceAccount", "extraPodSpec")},
        "image": _IMAGE, "networkPolicy": _NETPOL,
    },
    "proxy": {
        **{k: None for k in ("chp", "secretToken", "service", "traefik", "labels", "annotations",
                             "deploymentStrategy", "secretSync")},
        "https": {"enabled": None, "type": None, "hosts": None, "manual": None, "secret": None,
                  "letsencrypt": {"contactEmail": None, "acmeServer": None}},
    },
    "singleuser": {
        **{k: None for k in (
            "podNameTemplate", "initContainers", "profileList", "extraFiles", "extraEnv", "nodeSelector",
            "extraTolerations", "extraNodeAffinity", "extraPodAffinity", "extraPodAntiAffinity", "cloudMetadata",
            "cmd", "defaultUrl", "events", "extraAnnotations", "extraContainers", "extraLabels", "extraPodConfig",
            "extraResource", "fsGid", "lifecycleHooks", "networkTools", "serviceAccountName", "startTimeout",
            "allowPrivilegeEscalation", "uid")},
        "networkPolicy": _NETPOL, "image": _IMAGE,
        "cpu": {"limit": None, "guarantee": None},
        "memory": {"limit": None, "guarantee": None},
        "storage": {
            **{k: None for k in ("capacity", "extraLabels", "extraVolumeMounts", "extraVolumes", "homeMountPath",
                                 "static", "type")},
            "dynamic": {k: None for k in ("pvcNameTemplate", "storageAccessModes", "storageClass",
                                          "volumeNameTemplate")},
        },
    },
    "scheduling": {
        "userScheduler": {k: None for k in (
            "enabled", "revisionHistoryLimit", "replicas", "image", "pdb", "nodeSelector", "tolerations", "labels",
            "annotations", "containerSecurityContext", "logLevel", "plugins", "pluginConfig", "resources",
            "serviceAccount", "extraPodSpec")},
        "podPriority": {k: None for k in ("enabled", "globalDefault", "defaultPriority", "imagePullerPriority",
                                          "userPlaceholderPriority")},
        "userPlaceholder": {k: None for k in ("enabled", "image", "revisionHistoryLimit", "replicas", "labels",
                                              "annotations", "resources", "containerSecurityContext")},
        "corePods": _AFFINITY, "userPods": _AFFINITY,
    },
    "prePuller": {
        **{k: None for k in ("revisionHistoryLimit", "labels", "annotations", "resources", "extraTolerations",
                             "pullProfileListImages", "extraImages", "containerSecurityContext", "pause")},
        "hook": {k: None for k in ("enabled", "pullOnlyOnChanges", "podSchedulingWaitDuration", "nodeSelector",
                                   "tolerations", "containerSecurityContext", "image", "resources",
                                   "serviceAccount", "daemonsetAnnotations")},
        "continuous": {"enabled": None, "daemonsetAnnotations": None},
    },
    "cull": {k: None for k in ("enabled", "users", "adminUsers", "removeNamedServers", "timeout", "every",
                               "concurrency", "maxAge")},
}
# KubeSpawner traits a profile's kubespawner_override may set (KubeSpawner 7 documentation), for these examples.
KUBESPAWNER_OVERRIDES = {
    "image", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee", "extra_resource_limits",
    "extra_resource_guarantees", "node_selector", "tolerations", "environment", "default_url", "volumes",
    "volume_mounts", "extra_pod_config", "node_affinity_required", "image_pull_policy",
}
PROFILE_KEYS = {"display_name", "slug", "description", "default", "kubespawner_override", "profile_options"}


def undocumented(tree: Any, spec: Any, path: str = "") -> list[str]:
    """Dotted paths in `tree` that the chart's schema does not document (spec None: free-form)."""
    if spec is None or not isinstance(tree, dict):
        return []
    found = []
    for key, value in tree.items():
        where = f"{path}.{key}" if path else key
        if key not in spec:
            found.append(where)
        else:
            found += undocumented(value, spec[key], where)
    return found


def helm_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Values as `helm -f base -f overlay` merges them: maps key by key, everything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def lookup(values: dict[str, Any], key: str, default: Any = None) -> Any:
    """z2jh's get_config(key, default): a dotted path into the values."""
    value: Any = values
    for level in key.split("."):
        if not isinstance(value, dict) or level not in value:
            return default
        value = value[level]
    return copy.deepcopy(value)


def byte_size(text: str | int) -> int:
    """KubeSpawner's ByteSpecification: '3G' is 3 * 1024**3 bytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?)?", str(text))
    assert m, f"not a KubeSpawner byte size: {text!r}"
    power = " KMGT".index(m.group(2)[0]) if m.group(2) else 0
    return int(float(m.group(1)) * 1024**power)


def load_yaml(name: str) -> Any:
    return yaml.safe_load((EXAMPLES / name).read_text())


def load_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


@pytest.fixture
def values() -> dict[str, Any]:
    return load_yaml("z2jh-values.yaml")


@pytest.fixture
def rwx_values(values: dict[str, Any]) -> dict[str, Any]:
    return helm_merge(values, load_yaml("z2jh-values-rwx-exchange.yaml"))


def hub_config(values: dict[str, Any], *, auth: str | None = None) -> tuple[Config, dict[str, Any]]:
    """Run the hub.extraConfig snippets (plus a login fragment as '50-auth') as z2jh's jupyterhub_config.py does.

    The chart sets profile_list and services from the values first, then execs the snippets in key order in one
    namespace holding `c` and its get_config(key, default).
    """
    c = Config()
    c.KubeSpawner.profile_list = lookup(values, "singleuser.profileList", [])
    c.JupyterHub.services = [{"name": k, **v} for k, v in lookup(values, "hub.services", {}).items()]
    snippets = dict(values["hub"]["extraConfig"])
    if auth:
        snippets["50-auth"] = (EXAMPLES / auth).read_text()
    namespace: dict[str, Any] = {"c": c, "get_config": lambda key, default=None: lookup(values, key, default)}
    for key in sorted(snippets):
        exec(compile(snippets[key], f"hub.extraConfig.{key}", "exec"), namespace)
    return c, namespace


def run_fragment(name: str) -> tuple[Config, dict[str, Any]]:
    """Execute a jupyterhub_config.py fragment as load_subconfig would: `c` is the hub's Config."""
    c = Config()
    namespace: dict[str, Any] = {"c": c}
    exec(compile((EXAMPLES / name).read_text(), name, "exec"), namespace)
    return c, namespace


def fake_spawner(*groups: str) -> types.SimpleNamespace:
    """A stand-in for a KubeSpawner: its user's groups and its environment."""
    user = types.SimpleNamespace(name="someone", groups=[types.SimpleNamespace(name=g) for g in groups])
    return types.SimpleNamespace(user=user, environment={"NBGRADER_COURSE_ID": COURSE.id})


def roster_groups(role: str, cohort: str) -> list[str]:
    """The hub groups `course roster` gives one member with this role and cohort."""
    member = Member("someone", role, cohort)
    return sorted(g for g, users in hub_groups(COURSE, {"someone": member}).items() if "someone" in users)


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# ---------------------------------------------------------------- the Helm values


def test_values_use_only_keys_the_chart_documents(values: dict[str, Any], rwx_values: dict[str, Any]) -> None:
    """Does every key of the values (and of the shared-volume overlay merged in) exist in the z2jh chart?"""
    for name, tree in (("z2jh-values.yaml", values), ("merged with the rwx overlay", rwx_values),
                       ("overlay", load_yaml("z2jh-values-rwx-exchange.yaml"))):
        assert undocumented(tree, CHART_KEYS) == [], name
    for profile in values["singleuser"]["profileList"]:
        assert set(profile) <= PROFILE_KEYS
        assert set(profile.get("kubespawner_override", {})) <= KUBESPAWNER_OVERRIDES
    assert undocumented({"hub": {"nope": 1}}, CHART_KEYS) == ["hub.nope"]  # the check can fail


def test_course_facts_match_course_config(values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Are the course id and cohorts in the values and both login fragments those of course_config.py?"""
    assert values["custom"]["course"]["id"] == COURSE.id
    assert tuple(values["custom"]["course"]["cohorts"]) == COURSE.cohorts
    assert values["singleuser"]["extraEnv"]["NBGRADER_COURSE_ID"] == COURSE.id
    set_env(monkeypatch, LTI_ENV | OAUTH_ENV)
    for fragment in ("lti13_config.py", "oauth_config.py"):
        _, ns = run_fragment(fragment)
        assert (ns["COURSE_ID"], tuple(ns["COHORTS"])) == (COURSE.id, COURSE.cohorts), fragment
    image_config = (EXAMPLES / "images" / "nbgrader_config.py").read_text()
    assert f'os.environ.get("NBGRADER_COURSE_ID", "{COURSE.id}")' in image_config


HUB_ROLE = {"ta": "teaching-assistant"}  # roster role → hub role name (as in hub_config/jupyterhub_config.py)


def test_roles_are_the_rosters_and_their_scopes_exist(values: dict[str, Any]) -> None:
    """Is there a hub role per roster role, given to exactly that role's group, with scopes JupyterHub knows?"""
    from jupyterhub.roles import _validate_role_name
    from jupyterhub.scopes import _check_scopes_exist

    roles = values["hub"]["loadRoles"]
    services = set(values["hub"]["services"])
    for role in ROLES:
        mine = set(roster_groups(role, COURSE.cohorts[0]))
        others = set().union(*(roster_groups(r, COURSE.cohorts[0]) for r in ROLES if r != role))
        hub_role = HUB_ROLE.get(role, role)
        assert roles[hub_role]["groups"], role
        assert set(roles[hub_role]["groups"]) <= mine - others, role
    for name, role in roles.items():
        _validate_role_name(name)  # JupyterHub refuses names under 3 characters, such as "ta"
        _check_scopes_exist(role["scopes"], who_for=f"role {name}")
        assert set(role.get("services", [])) <= services, name
        for scope in role["scopes"]:
            if scope.startswith("access:services!service="):
                assert scope.split("=", 1)[1] in services, (name, scope)
    assert "access:services!service=dashboard" in roles["student"]["scopes"]


def test_groups_are_created_as_the_roster_names_them(values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a group-managing login, does the hub create exactly the groups `course roster` fills?"""
    monkeypatch.setenv("NGSHARE_API_TOKEN", "t0ken")
    c, _ = hub_config(values)
    everyone = {f"u{i}": Member(f"u{i}", role, cohort)
                for i, (role, cohort) in enumerate((r, k) for r in ROLES for k in COURSE.cohorts)}
    assert set(c.JupyterHub.load_groups) == set(hub_groups(COURSE, everyone))
    assert {f"cohort-{k}" for k in COURSE.cohorts} <= set(c.JupyterHub.load_groups)
    assert c.JupyterHub.load_groups["cohort-2026a"]["properties"] == {"course": COURSE.id, "cohort": "2026a"}


@pytest.mark.parametrize("fragment", ["lti13_config.py", "oauth_config.py"])
def test_login_fragments_take_over_groups(values: dict[str, Any], fragment: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With the LTI or OAuth login, are groups left to the authenticator (JupyterHub refuses load_groups then)?"""
    set_env(monkeypatch, LTI_ENV | OAUTH_ENV | {"NGSHARE_API_TOKEN": "t0ken"})
    c, _ = hub_config(values, auth=fragment)
    assert c.JupyterHub.load_groups == {}
    managed = [name for name, section in c.items() if name.endswith("Authenticator")
               and section.get("manage_groups")]
    assert managed, fragment


def test_every_extra_config_snippet_compiles(values: dict[str, Any]) -> None:
    """Does each hub.extraConfig snippet, in both files, compile as Python?"""
    snippets = {**values["hub"]["extraConfig"]}
    snippets.update({f"rwx {k}": v for k, v in load_yaml("z2jh-values-rwx-exchange.yaml")["hub"]["extraConfig"].items()})
    assert len(snippets) >= 5
    for key, source in snippets.items():
        assert isinstance(source, str), key
        compile(source, f"hub.extraConfig.{key}", "exec")


def test_ngshare_is_registered_with_the_token_of_its_chart(values: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Is ngshare a hub service with the ngshare chart's token, reachable from user pods at the URL they use?"""
    monkeypatch.setenv("NGSHARE_API_TOKEN", "t0ken")
    c, _ = hub_config(values)
    services = {s["name"]: s for s in c.JupyterHub.services}
    url = values["custom"]["ngshare"]["url"]
    assert services["ngshare"] == {"name": "ngshare", "url": url, "api_token": "t0ken"}
    assert "dashboard" in services
    secret = values["hub"]["extraEnv"]["NGSHARE_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (secret["name"], secret["key"]) == ("ngshare-token", "token")  # the ngshare chart's Secret
    assert values["singleuser"]["extraEnv"]["NGSHARE_URL"] == f"{url}/services/ngshare"
    port = int(url.rsplit(":", 1)[1])
    egress = values["singleuser"]["networkPolicy"]["egress"][0]
    assert egress["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ngshare"}
    assert egress["ports"][0]["port"] == port
    ingress = values["hub"]["networkPolicy"]["ingress"][0]
    assert ingress["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ngshare"}
    assert ingress["ports"][0]["port"] == 8081

    monkeypatch.delenv("NGSHARE_API_TOKEN")
    with pytest.raises(RuntimeError, match="install the ngshare chart first"):
        hub_config(values)


def test_ngshare_runs_the_pinned_sqlalchemy_1_image() -> None:
    """Does the ngshare chart get our image with ngshare 0.6.0 on SQLAlchemy < 2 (2.x silently loses data)?"""
    chart_values = load_yaml("ngshare-values.yaml")
    assert chart_values["image"]["repository"] != "libretexts/ngshare"
    assert chart_values["deployment"]["replicaCount"] == 1
    dockerfile = (EXAMPLES / "images" / "ngshare.Dockerfile").read_text()
    for pin in ('"ngshare==0.6.0"', '"SQLAlchemy<2"', '"alembic<1.15"'):
        assert pin in dockerfile


def test_shared_volume_overlay_replaces_ngshare(rwx_values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Merged over the main values, does the overlay mount one RWX exchange volume instead of using ngshare?"""
    monkeypatch.delenv("NGSHARE_API_TOKEN", raising=False)
    c, _ = hub_config(rwx_values)                        # starts without the ngshare chart's token
    assert "ngshare" not in {s["name"] for s in c.JupyterHub.services}
    env = rwx_values["singleuser"]["extraEnv"]
    assert env["NGSHARE_URL"] == ""
    storage = rwx_values["singleuser"]["storage"]
    (volume,), (mount,) = storage["extraVolumes"], storage["extraVolumeMounts"]
    assert mount == {"name": volume["name"], "mountPath": env["NBGRADER_EXCHANGE"]}
    pvc = next(d for d in load_docs("nbgrader-exchange-pvc.yaml") if d["kind"] == "PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    job = next(d for d in load_docs("nbgrader-exchange-pvc.yaml") if d["kind"] == "Job")
    assert "chmod 1777 " + env["NBGRADER_EXCHANGE"] in " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    assert rwx_values["singleuser"]["networkPolicy"]["egress"] == []


def test_image_nbgrader_config_picks_the_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the image's nbgrader config use the shared volume, or ngshare, or refuse both at once?"""
    source = (EXAMPLES / "images" / "nbgrader_config.py").read_text()

    def load() -> Config:
        c = Config()
        exec(compile(source, "nbgrader_config.py", "exec"), {"get_config": lambda: c})
        return c

    monkeypatch.setenv("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
    monkeypatch.setenv("NGSHARE_URL", "")
    c = load()
    assert c.Exchange.root == "/srv/nbgrader/exchange"
    assert c.CollectApp.check_owner is False
    assert c.CourseDirectory.course_id == COURSE.id
    monkeypatch.setenv("NGSHARE_URL", "http://ngshare:8080/services/ngshare")
    with pytest.raises(ValueError, match="not both"):
        load()
    monkeypatch.setenv("NBGRADER_EXCHANGE", "")
    if importlib.util.find_spec("ngshare_exchange") is None:
        with pytest.raises(ImportError, match=r"ngshare_exchange==0\.5\.2"):
            load()
    else:  # the real client (it reads JUPYTERHUB_USER on import): its exchange classes replace nbgrader's
        monkeypatch.setenv("JUPYTERHUB_USER", "alice")
        c = load()
        assert c.ExchangeFactory.fetch_assignment.__module__.startswith("ngshare_exchange.")
        assert c.ExchangeFactory.exchange._ngshare_url == "http://ngshare:8080/services/ngshare"


def test_profiles_fit_the_course_and_the_gpu_profile_asks_for_a_gpu(values: dict[str, Any]) -> None:
    """Does each profile hold at least a graded notebook's sandbox limits, and does the GPU one get a GPU node?"""
    profiles = {p["slug"]: p for p in values["singleuser"]["profileList"]}
    assert set(profiles) == {"cpu", "gpu"}
    assert [p["slug"] for p in profiles.values() if p.get("default")] == ["cpu"]
    for slug, profile in profiles.items():
        o = profile["kubespawner_override"]
        for part in COURSE.parts:
            limits = COURSE.limits_for(part.id)
            assert float(o["cpu_limit"]) >= limits.cpus, (slug, part.id)
            # the notebook's sandbox memory plus room for the Jupyter server and kernel
            assert byte_size(o["mem_limit"]) >= (limits.memory_mb + 512) * 2**20, (slug, part.id)
        assert float(o["cpu_guarantee"]) <= float(o["cpu_limit"])
        assert byte_size(o["mem_guarantee"]) <= byte_size(o["mem_limit"])
    cpu = profiles["cpu"]["kubespawner_override"]
    assert (values["singleuser"]["cpu"]["limit"], values["singleuser"]["memory"]["limit"]) == (
        cpu["cpu_limit"], cpu["mem_limit"])  # placeholders reserve what a CPU user gets
    gpu = profiles["gpu"]["kubespawner_override"]
    assert int(gpu["extra_resource_limits"]["nvidia.com/gpu"]) >= 1
    assert gpu["node_selector"]
    keys = {t["key"] for t in gpu["tolerations"]}
    assert {"nvidia.com/gpu", "hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated"} <= keys
    assert gpu["image"] != values["singleuser"]["image"]["name"]
    assert values["singleuser"]["image"]["tag"] not in ("", "latest")


def test_gpu_profile_is_offered_only_to_gpu_groups(values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Do members of custom.course.gpuGroups see both profiles, and everyone else only the CPU one?"""
    monkeypatch.setenv("NGSHARE_API_TOKEN", "t0ken")
    values["custom"]["course"]["gpuGroups"] = ["instructors"]
    c, _ = hub_config(values)
    offer = c.KubeSpawner.profile_list
    assert [p["slug"] for p in offer(fake_spawner("students", "cohort-2026a"))] == ["cpu"]
    assert [p["slug"] for p in offer(fake_spawner("instructors"))] == ["cpu", "gpu"]


def test_staff_and_students_get_their_own_jupyter_config(values: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the pre-spawn hook point staff and students at the Jupyter config folders the image copies?"""
    monkeypatch.setenv("NGSHARE_API_TOKEN", "t0ken")
    c, _ = hub_config(values)
    dockerfile = (EXAMPLES / "images" / "singleuser.Dockerfile").read_text()
    for groups, folder in ((("students", "cohort-2026a"), "student"), (("tas",), "staff"), (("instructors",), "staff")):
        spawner = fake_spawner(*groups)
        before = spawner.environment
        c.KubeSpawner.pre_spawn_hook(spawner)
        path = spawner.environment["JUPYTER_CONFIG_PATH"]
        assert path == f"/opt/aiml-course/jupyter/{folder}"
        assert spawner.environment["NBGRADER_COURSE_ID"] == COURSE.id and "JUPYTER_CONFIG_PATH" not in before
        assert (ROOT / "hub_config" / "jupyter" / folder).is_dir()
        assert f"COPY hub_config/jupyter/{folder}/ {path}/" in dockerfile


def test_culling_and_deadline_spikes(values: dict[str, Any]) -> None:
    """Are idle servers culled (never mid-run of a graded notebook's budget) and is there headroom for deadlines?"""
    cull = values["cull"]
    assert cull["enabled"] is True and cull["users"] is False
    assert isinstance(cull["timeout"], int) and cull["timeout"] > 0
    assert cull["timeout"] >= max(COURSE.limits_for(p.id).wall_seconds for p in COURSE.parts)
    assert isinstance(cull["every"], int) and 0 < cull["every"] < cull["timeout"]
    s = values["scheduling"]
    assert s["userScheduler"]["enabled"] and s["userPlaceholder"]["enabled"]
    assert s["userPlaceholder"]["replicas"] > 0
    p = s["podPriority"]
    assert p["enabled"] and p["userPlaceholderPriority"] < p["imagePullerPriority"] < p["defaultPriority"]
    assert values["prePuller"]["hook"]["enabled"] and values["prePuller"]["continuous"]["enabled"]


def test_dashboard_manifest_matches_its_hub_service(values: dict[str, Any]) -> None:
    """Does the dashboard Deployment serve where hub.services.dashboard points, with the token the chart makes?"""
    docs = {d["kind"]: d for d in load_docs("course-dashboard.yaml")}
    service, deployment = docs["Service"], docs["Deployment"]
    url = values["hub"]["services"]["dashboard"]["url"]
    host, port = url.removeprefix("http://").split(":")
    assert (service["metadata"]["name"], service["spec"]["ports"][0]["port"]) == (host, int(port))
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "hub", "key": "hub.services.dashboard.apiToken"}
    assert env["JUPYTERHUB_SERVICE_NAME"]["value"] == "dashboard"
    assert env["JUPYTERHUB_SERVICE_PREFIX"]["value"] == "/services/dashboard/"
    assert env["JUPYTERHUB_SERVICE_URL"]["value"].endswith(f":{container['ports'][0]['containerPort']}")
    assert container["command"][-2:] == ["-m", "aiml_course.hub.dashboard"]
    assert importlib.util.find_spec("aiml_course.hub.dashboard") is not None
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]}
    assert claims == {docs["PersistentVolumeClaim"]["metadata"]["name"]}


# ---------------------------------------------------------------- LTI 1.3

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def launch(roles: list[str], *, context: str = "ctx-2026a", username: str = "alice") -> dict[str, Any]:
    """An LTI 1.3 launch's authentication model as LTI13Authenticator.authenticate returns it."""
    return {"name": username, "auth_state": {
        "https://purl.imsglobal.org/spec/lti/claim/roles": roles,
        "https://purl.imsglobal.org/spec/lti/claim/context": {"id": context, "label": "AIML"},
        "https://purl.imsglobal.org/spec/lti/claim/custom": {"username": username} if username else {},
    }}


def test_lti_fragment_sets_the_authenticator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the LTI fragment configure LTI13Authenticator from the environment, managing groups itself?"""
    set_env(monkeypatch, LTI_ENV)
    c, _ = run_fragment("lti13_config.py")
    lti = c.LTI13Authenticator
    assert c.JupyterHub.authenticator_class == "ltiauthenticator.lti13.auth.LTI13Authenticator"
    assert lti.issuer == LTI_ENV["LTI13_ISSUER"]
    assert lti.client_id == {"10000000000001", "10000000000002"}
    assert (lti.authorize_url, lti.jwks_endpoint) == (LTI_ENV["LTI13_AUTHORIZE_URL"], LTI_ENV["LTI13_JWKS_ENDPOINT"])
    assert lti.username_key == "custom_username"
    assert lti.manage_groups is True and lti.allow_all is True and callable(lti.post_auth_hook)
    assert c.JupyterHub.load_groups == {}

    monkeypatch.delenv("LTI13_JWKS_ENDPOINT")
    with pytest.raises(ValueError, match="LTI13_JWKS_ENDPOINT"):
        run_fragment("lti13_config.py")
    set_env(monkeypatch, LTI_ENV | {"LTI13_CONTEXTS": "ctx-x=2031z"})
    with pytest.raises(ValueError, match="2031z"):
        run_fragment("lti13_config.py")


@pytest.mark.parametrize(("roles", "context", "role", "cohort"), [
    ([LEARNER], "ctx-2026a", "student", "2026a"),
    ([LEARNER], "ctx-2026b", "student", "2026b"),
    (["Learner"], "ctx-2026b", "student", "2026b"),                       # LTI's short role names
    ([INSTRUCTOR, TA], "ctx-2026b", "ta", "2026b"),                      # how Canvas sends a TA
    ([INSTRUCTOR, "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"], "ctx-2026a",
     "instructor", ""),
])
def test_lti_launch_gives_the_rosters_groups(roles: list[str], context: str, role: str, cohort: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a launch's LTI role and LMS course give exactly the hub groups `course roster` gives that member?"""
    set_env(monkeypatch, LTI_ENV)
    c, _ = run_fragment("lti13_config.py")
    authenticator = types.SimpleNamespace(username_key=c.LTI13Authenticator.username_key)
    model = c.LTI13Authenticator.post_auth_hook(authenticator, None, launch(roles, context=context))
    assert model["groups"] == roster_groups(role, cohort)


@pytest.mark.parametrize(("model", "reason"), [
    (launch([LEARNER], context="ctx-other-course"), "ctx-other-course"),
    (launch(["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor",
             "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"]), "no access"),
    (launch([LEARNER], username=""), "username=\\$User.username"),
])
def test_lti_launch_is_refused_with_a_reason(model: dict[str, Any], reason: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Are launches from another LMS course, without a course role or without a username refused (403)?"""
    from tornado.web import HTTPError

    set_env(monkeypatch, LTI_ENV)
    c, _ = run_fragment("lti13_config.py")
    authenticator = types.SimpleNamespace(username_key="custom_username")
    with pytest.raises(HTTPError, match=reason) as refused:
        c.LTI13Authenticator.post_auth_hook(authenticator, None, model)
    assert refused.value.status_code == 403


# ---------------------------------------------------------------- OAuth


def test_generic_oauth_fragment_sets_the_authenticator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the OAuth fragment configure GenericOAuthenticator, letting in only the course's role groups?"""
    set_env(monkeypatch, OAUTH_ENV | {"COURSE_OAUTH_PROVIDER": "generic"})
    c, _ = run_fragment("oauth_config.py")
    auth = c.GenericOAuthenticator
    assert c.JupyterHub.authenticator_class == "generic-oauth"
    assert (auth.client_id, auth.client_secret) == ("hub-client", "s3cret")
    assert auth.oauth_callback_url == OAUTH_ENV["OAUTH_CALLBACK_URL"]
    assert (auth.authorize_url, auth.token_url, auth.userdata_url) == (
        OAUTH_ENV["OAUTH2_AUTHORIZE_URL"], OAUTH_ENV["OAUTH2_TOKEN_URL"], OAUTH_ENV["OAUTH2_USERDATA_URL"])
    assert auth.username_claim == "preferred_username"
    assert auth.manage_groups is True
    nbgrader_groups = {f"nbgrader-{COURSE.id}", f"formgrade-{COURSE.id}"}
    assert auth.allowed_groups == {g for r in ROLES for g in roster_groups(r, "")} - nbgrader_groups
    assert c.JupyterHub.load_groups == {}
    groups = auth.auth_state_groups_key
    assert groups({"oauth_user": {"groups": ["aiml101-students-2026b", "staff-lunch"]}}) == roster_groups("student", "2026b")
    assert groups({"oauth_user": {"groups": ["aiml101-tas", "aiml101-students-2026a"]}}) == roster_groups("ta", "2026a")
    assert groups({"oauth_user": {"groups": ["aiml101-instructors", "aiml101-tas"]}}) == roster_groups("instructor", "")
    assert groups({"oauth_user": {"groups": ["physics-101"]}}) == []
    assert groups({"oauth_user": {}}) == []

    monkeypatch.delenv("OAUTH_CLIENT_SECRET")
    with pytest.raises(ValueError, match="OAUTH_CLIENT_SECRET"):
        run_fragment("oauth_config.py")


def test_github_oauth_fragment_maps_teams(monkeypatch: pytest.MonkeyPatch) -> None:
    """With GitHub, do the organisation's course teams become the course's hub groups?"""
    set_env(monkeypatch, OAUTH_ENV | {"COURSE_OAUTH_PROVIDER": "github"})
    c, _ = run_fragment("oauth_config.py")
    auth = c.GitHubOAuthenticator
    assert c.JupyterHub.authenticator_class == "github"
    assert "read:org" in auth.scope and auth.populate_teams_in_auth_state is True
    assert auth.manage_groups is True and auth.allowed_groups == {"students", "tas", "instructors"}

    def team(org: str, slug: str) -> dict[str, Any]:
        return {"slug": slug, "organization": {"login": org}}

    groups = auth.auth_state_groups_key
    assert groups({"teams": [team("aiml-course", "aiml101-students-2026a")]}) == roster_groups("student", "2026a")
    assert groups({"teams": [team("someone-else", "aiml101-students-2026a")]}) == []
    assert groups({"teams": [team("aiml-course", "aiml101-tas")]}) == roster_groups("ta", "")

    monkeypatch.setenv("COURSE_OAUTH_PROVIDER", "gitlab")
    with pytest.raises(ValueError, match="'gitlab'"):
        run_fragment("oauth_config.py")


# ---------------------------------------------------------------- against the real packages, where installed


@pytest.mark.parametrize(("fragment", "provider"), [("lti13_config.py", ""), ("oauth_config.py", "generic"),
                                                    ("oauth_config.py", "github")])
def test_fragments_configure_the_real_authenticators(fragment: str, provider: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Does JupyterHub resolve the authenticator class, and is every key set a configurable trait of it?"""
    pytest.importorskip("oauthenticator", reason="oauthenticator is not installed (it is in the z2jh hub image)")
    pytest.importorskip("ltiauthenticator", reason="jupyterhub-ltiauthenticator is not installed")
    from jupyterhub.app import JupyterHub

    set_env(monkeypatch, LTI_ENV | OAUTH_ENV | {"COURSE_OAUTH_PROVIDER": provider})
    c, _ = run_fragment(fragment)
    try:
        cls = JupyterHub(config=c).authenticator_class
        assert set(c[cls.__name__]) <= set(cls.class_trait_names(config=True))
        authenticator = cls(config=c)
        assert authenticator.manage_groups is True
    finally:
        JupyterHub.clear_instance()


def test_profile_overrides_are_kubespawner_traits(values: dict[str, Any]) -> None:
    """Is every kubespawner_override key a configurable KubeSpawner trait?"""
    kubespawner = pytest.importorskip("kubespawner", reason="jupyterhub-kubespawner is not installed")
    traits = set(kubespawner.KubeSpawner.class_trait_names(config=True))
    assert KUBESPAWNER_OVERRIDES <= traits
    for profile in values["singleuser"]["profileList"]:
        assert set(profile["kubespawner_override"]) <= traits


def test_helm_template_renders_the_values(tmp_path: Path) -> None:
    """With helm and a local copy of the chart (Z2JH_CHART), does `helm template` accept the values?"""
    chart = os.environ.get("Z2JH_CHART")
    if not shutil.which("helm") or not chart:
        pytest.skip("helm and a local z2jh chart (Z2JH_CHART=path/to/jupyterhub-4.4.0.tgz) are needed")
    cmd = ["helm", "template", "aiml101", chart, "-f", str(EXAMPLES / "z2jh-values.yaml"),
           "--set-file", f"hub.extraConfig.50-auth={EXAMPLES / 'oauth_config.py'}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(out.stdout) if d}
    assert {"Deployment", "StatefulSet", "DaemonSet", "NetworkPolicy"} <= kinds


# ---------------------------------------------------------------- images and docs


def test_user_image_never_carries_solutions_and_pins_what_works() -> None:
    """Does the user image copy only src/ and the packaging files (no source/ or autograder/), with the pins?"""
    dockerfile = (EXAMPLES / "images" / "singleuser.Dockerfile").read_text()
    sources = [src for line in dockerfile.splitlines() if line.startswith("COPY")
               for src in line.split()[1:-1] if not src.startswith("--")]
    assert sources and "." not in sources and "./" not in sources
    assert not [s for s in sources if s.split("/")[0] in ("source", "autograder", "tests", "var", "release")]
    for src in sources:
        assert (ROOT / src).exists(), src
    install = (ROOT / "scripts" / "install.sh").read_text()
    torch_pin = re.search(r'"torch==([\d.]+)"', install)
    assert torch_pin and f'"torch=={torch_pin.group(1)}"' in dockerfile
    for pin in ('"jupyterhub==5.5.*"', '"nbgrader==0.9.6"', '"ngshare_exchange==0.5.2"'):
        assert pin in dockerfile
    assert json.loads((EXAMPLES / "images" / "aiml-formgrader-frame.json").read_text())["ServerApp"]


def test_readme_covers_every_example() -> None:
    """Does the README explain every file in hub_config/examples/?"""
    readme = (EXAMPLES / "README.md").read_text()
    files = [p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file() and p.name != "README.md"]
    assert files
    assert [f for f in files if f not in readme] == []
    assert "helm upgrade --install" in readme and "--version 4.4.0" in readme
