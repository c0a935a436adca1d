"""JupyterHub for the course on one machine: the README's embedded default (`course hub` starts it).

Real OS users (PAM logins; CourseSpawner: each person's server runs under their own uid in a network namespace,
bubblewrap view, PID namespace and cgroup of its own — aiml_course.hub.isolation), nbgrader's file exchange,
cohorts as hub groups `cohort-<name>`, roles student / ta / instructor, the course dashboard as a hub-managed
OAuth service, idle culling. Everything course-specific comes from course_config.py and the roster
(`course roster import`), so this file rarely needs editing. Paths and ports: aiml_course.hub.settings.
For Kubernetes, LTI 1.3 and OAuth logins see hub_config/examples/.
"""

import atexit

from aiml_course.hub import isolation
from aiml_course.hub.roster import hub_groups, load_members
from aiml_course.hub.settings import HubSettings, token

S = HubSettings.from_env()
HERE = S.course.root.resolve() / "hub_config"
STATE = S.layout.state_dir
MEMBERS = load_members(S.layout)
ACTIVE = {u: m for u, m in MEMBERS.items() if m.active}
PY = str(S.python)
NET = isolation.HubNetwork(S.port)          # each person's server: own network namespace on this hub's bridge
ISOLATE = S.isolate

c = get_config()  # noqa: F821  (JupyterHub provides get_config)

# ------------------------------------------------------------------ network: every port fixed
c.JupyterHub.bind_url = S.public_url                                   # the proxy: the one public URL
# the hub's API listens on the bridge's host address: servers (each in its own network namespace) reach it there,
# and the host's firewall lets the bridge reach nothing else (isolation.setup_bridge)
HUB_HOST = NET.gateway if ISOLATE else S.ip
c.JupyterHub.hub_bind_url = f"http://{HUB_HOST}:{S.port + 1}"
c.JupyterHub.hub_connect_url = f"http://{HUB_HOST}:{S.port + 1}"
if ISOLATE:
    isolation.setup_bridge(NET, S.port + 1)
    atexit.register(isolation.teardown, NET)
c.ConfigurableHTTPProxy.api_url = f"http://{S.ip}:{S.port + 2}"
c.ConfigurableHTTPProxy.command = [str(S.bin / "configurable-http-proxy")]  # the Python CHP (no Node needed)
c.ConfigurableHTTPProxy.should_start = True

# ------------------------------------------------------------------ state (root-only folder)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True                                    # stop user servers with the hub

# ------------------------------------------------------------------ who may log in
if S.auth == "shared-password":                                        # demos on machines without PAM
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = (STATE / "shared-password").read_text().strip()
else:
    c.JupyterHub.authenticator_class = "pam"                           # the hub runs as root: reads /etc/shadow
    c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = set(ACTIVE)                            # JupyterHub ≥ 5: nobody else gets in
c.Authenticator.admin_users = set()                                    # staff rights come from roles, not admin

# ------------------------------------------------------------------ cohorts and roles
c.JupyterHub.load_groups = {name: {"users": users} for name, users in hub_groups(S.course, MEMBERS).items()}
DASHBOARD = "access:services!service=dashboard"
c.JupyterHub.load_roles = [
    {"name": "student", "groups": ["students"], "scopes": ["self", DASHBOARD]},
    {"name": "teaching-assistant", "groups": ["tas"],
     "scopes": ["self", DASHBOARD, "read:users:name!group=students", "read:users:groups!group=students"]},
    {"name": "instructor", "groups": ["instructors"],
     "scopes": ["self", DASHBOARD, "list:users", "read:users!group=students", "read:groups",
                "admin:servers!group=students", "access:servers!group=students"]},
    # token-only service used by `course roster` to keep hub users and groups equal to the roster
    {"name": "course-admin", "services": ["course-admin"],
     "scopes": ["admin:users", "admin:groups", "list:users", "read:users", "list:groups", "read:groups"]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]

# ------------------------------------------------------------------ services
c.JupyterHub.services = [
    {   # the course dashboard: identifies people through hub OAuth; its own token needs no scopes at all
        "name": "dashboard", "display": True, "oauth_no_confirm": True,
        "url": f"http://{S.ip}:{S.dashboard_port}",
        "api_token": token(S.layout, "dashboard-token"),
        "command": [PY, "-m", "aiml_course.hub.dashboard"],
        "environment": S.env(),
    },
    {"name": "course-admin", "api_token": token(S.layout, "admin-token")},
    {   # stop idle servers (course_config.py: HubConfig.idle_minutes); a class leaves hundreds of idle kernels
        "name": "idle-culler",
        "command": [PY, "-m", "jupyterhub_idle_culler", f"--timeout={S.course.hub.idle_minutes * 60}",
                    "--cull-every=300"],
    },
]


# ------------------------------------------------------------------ single-user servers
def _pre_spawn(spawner):
    member = ACTIVE.get(spawner.user.name)
    role = member.role if member else "student"
    staff = role in ("ta", "instructor")
    folders = ["common", "staff" if staff else "student"]
    spawner.environment["JUPYTER_CONFIG_PATH"] = ":".join(str(HERE / "jupyter" / f) for f in folders)
    spawner.staff_writable = [str(S.layout.course_dir)] if staff else []   # their formgrader's course directory
    if staff:
        spawner.environment["AIML_NBGRADER_COURSE_DIR"] = str(S.layout.course_dir)


c.JupyterHub.spawner_class = "aiml_course.hub.spawner.CourseSpawner"   # namespaces + bwrap view + cgroup each
c.CourseSpawner.isolate = ISOLATE
c.CourseSpawner.hub_port = S.port
c.CourseSpawner.read_only = [str(p) for p in S.student_read_only]
c.CourseSpawner.writable = [str(S.layout.exchange)]
c.CourseSpawner.profile_dir = str(isolation.write_profile_dir(STATE / "profile.d", S.bin))
c.CourseSpawner.memory_mb = S.course.hub.memory_mb
c.CourseSpawner.cpus = S.course.hub.cpus
c.CourseSpawner.pids = S.course.hub.pids
c.Spawner.pre_spawn_hook = _pre_spawn
c.Spawner.cmd = [str(S.bin / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "PATH": f"{S.bin}:/usr/local/bin:/usr/bin:/bin",
    "NBGRADER_EXCHANGE": str(S.layout.exchange),
    "NBGRADER_COURSE_ID": S.course.id,
    "NBGRADER_HUB_AUTH": "1",                     # course membership from the hub groups nbgrader-/formgrade-<id>
    "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",  # many students share the CPUs: keep torch polite
    "AIML_HEADLESS": "0",
}
c.Spawner.mem_limit = f"{S.course.hub.memory_mb}M"   # shown to Jupyter (resource indicators); enforced by the cgroup
c.CourseSpawner.concurrent_starts = 4             # a class logging in at once: Labs in turn, not all at the end
c.Spawner.http_timeout = 300                     # a class logging in at once on a small machine (tests/hub/test_hub_load)
c.Spawner.start_timeout = 900                    # includes waiting for a turn to start (concurrent_starts)
c.Spawner.interrupt_timeout = 3                   # fast, clean shutdown (see ../shared notes: SIGINT pitfall)
c.Spawner.term_timeout = 3

