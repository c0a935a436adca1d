"""Each person's Jupyter server (and every kernel and terminal it starts) in a world of its own.

One machine, the same shape as a KubeSpawner pod on Kubernetes:

    network   a network namespace per person with one veth into the hub's bridge (`aiml<port>`), its own address
              in 100.64.0.0/10 and port 8888; ports isolated from each other on the bridge, and the host accepts
              from the bridge only the hub's API port. No default route: no internet, no host service, no other
              student. Nobody's server ever binds a host port, so no port can be squatted or raced for.
    files     bubblewrap (started by root, no user namespace) builds a fresh root: /usr and /etc read-only, the
              Python environment, the student library and the Jupyter settings read-only, the person's home and
              nbgrader's exchange read-write (staff: the course directory too), a private /tmp, /proc of its own
              PID namespace and a minimal /dev. The repository, grading jobs, /srv state, other homes and root's
              files are not mounted: they do not exist in there.
    identity  `setpriv` drops to the person's uid/gids with no capabilities and no_new_privs before anything of
              theirs runs.
    limits    the cgroup aiml-hub/<user> (spawner.py), joined before exec.

Everything here is plain functions over `ip`, `iptables` and `bwrap` argv lists, so it can be read and tested.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aiml_course.errors import HubError

SERVER_PORT = 8888                  # every server listens on its own address, so every server has the same port
NETNS_DIR = Path("/run/netns")
CGNAT = ipaddress.ip_network("100.64.0.0/10")
PER_HUB_PREFIX = 20                 # a /20 per hub: 4093 people
SYSTEM_DIRS = ("bin", "sbin", "lib", "lib64", "lib32", "usr", "etc")
PROFILE = """# Written by aiml_course.hub.isolation: the course's Python and nbgrader in every login shell (Lab terminals).
case ":$PATH:" in *":{bin}:"*) ;; *) PATH="{bin}:$PATH" ;; esac
export PATH
"""


@dataclass(frozen=True)
class HubNetwork:
    """The bridge of one hub (named after its public port) and the addresses handed to people's servers."""

    port: int

    @property
    def bridge(self) -> str:
        return f"aiml{self.port}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        blocks = list(CGNAT.subnets(new_prefix=PER_HUB_PREFIX))
        return blocks[self.port % len(blocks)]

    @property
    def gateway(self) -> str:
        """The host's address on the bridge: the hub's API listens here for the servers."""
        return str(self.subnet.network_address + 1)

    @property
    def chain(self) -> str:
        return f"AIML-{self.port}"

    @property
    def capacity(self) -> int:
        return self.subnet.num_addresses - 3

    def address(self, index: int) -> str:
        """The address of the index-th server (0-based)."""
        if not 0 <= index < self.capacity:
            raise HubError(f"no address left on {self.bridge} ({self.capacity} servers at most)")
        return str(self.subnet.network_address + 2 + index)

    def netns(self, user: str) -> str:
        return f"{self.bridge}-{user}"

    def veth(self, index: int) -> str:
        return f"av{self.port}x{index}"[:15]


def available() -> str | None:
    """None if this machine can isolate servers, else what is missing."""
    missing = [tool for tool in ("bwrap", "ip", "iptables", "nsenter", "setpriv") if shutil.which(tool) is None]
    if missing:
        return "missing " + ", ".join(missing) + " (scripts/install.sh installs bubblewrap; iproute2, iptables)"
    if os.geteuid() != 0:
        return "needs root"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise HubError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _iptables(*args: str, check: bool = True) -> bool:
    proc = subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise HubError(f"`iptables {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.returncode == 0


def setup_bridge(net: HubNetwork, hub_api_port: int) -> None:
    """The hub's bridge with the host's address, and the host's firewall: from the bridge, only the hub's API."""
    teardown(net)  # a hub killed without cleaning up leaves its bridge, namespaces and rules behind
    _ip("link", "add", net.bridge, "type", "bridge")
    _ip("addr", "add", f"{net.gateway}/{net.subnet.prefixlen}", "dev", net.bridge)
    _ip("link", "set", net.bridge, "up")
    _iptables("-N", net.chain)
    _iptables("-A", net.chain, "-p", "tcp", "--dport", str(hub_api_port), "-j", "ACCEPT")
    _iptables("-A", net.chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
    _iptables("-A", net.chain, "-j", "DROP")
    _iptables("-I", "INPUT", "-i", net.bridge, "-j", net.chain)
    _iptables("-I", "FORWARD", "-i", net.bridge, "-j", "DROP")   # nothing routed on from the bridge


def teardown(net: HubNetwork) -> None:
    """Remove the hub's namespaces, bridge and firewall rules (whatever of them exists)."""
    for name in namespaces(net):
        _ip("netns", "del", name, check=False)
    _ip("link", "del", net.bridge, check=False)
    while _iptables("-D", "INPUT", "-i", net.bridge, "-j", net.chain, check=False):
        pass
    while _iptables("-D", "FORWARD", "-i", net.bridge, "-j", "DROP", check=False):
        pass
    _iptables("-F", net.chain, check=False)
    _iptables("-X", net.chain, check=False)


def namespaces(net: HubNetwork) -> list[str]:
    prefix = f"{net.bridge}-"
    return sorted(p.name for p in NETNS_DIR.glob(f"{prefix}*")) if NETNS_DIR.is_dir() else []


def create_netns(net: HubNetwork, user: str, index: int) -> str:
    """A fresh network namespace for `user` plugged into the bridge; the server's address."""
    name, veth, address = net.netns(user), net.veth(index), net.address(index)
    delete_netns(net, user)
    _ip("link", "del", veth, check=False)
    _ip("netns", "add", name)
    _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
    _ip("link", "set", veth, "master", net.bridge)
    _ip("link", "set", veth, "type", "bridge_slave", "isolated", "on")   # servers never reach each other
    _ip("link", "set", veth, "up")
    _ip("-n", name, "addr", "add", f"{address}/{net.subnet.prefixlen}", "dev", "eth0")
    _ip("-n", name, "link", "set", "eth0", "up")
    _ip("-n", name, "link", "set", "lo", "up")                           # kernels talk to the server over lo
    return address


def delete_netns(net: HubNetwork, user: str) -> None:
    _ip("netns", "del", net.netns(user), check=False)


@dataclass(frozen=True)
class View:
    """What one person's server sees of the machine."""

    home: Path
    uid: int
    gid: int
    read_only: tuple[Path, ...]     # the Python environment, the student library, the Jupyter settings
    writable: tuple[Path, ...]      # nbgrader's exchange; for staff the course directory too
    profile_dir: Path               # bound over /etc/profile.d (the host's snippets + aiml-course.sh)
    hostname: str = "jupyter"


def write_profile_dir(folder: Path, python_bin: Path) -> Path:
    """A copy of /etc/profile.d plus aiml-course.sh, which puts the course's Python and nbgrader on PATH (Lab
    terminals are login shells, and Debian's /etc/profile resets PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    host = Path("/etc/profile.d")
    for item in host.iterdir() if host.is_dir() else []:
        if item.is_file() and not item.is_symlink():
            shutil.copyfile(item, folder / item.name)
            (folder / item.name).chmod(0o644)
    (folder / "aiml-course.sh").write_text(PROFILE.format(bin=python_bin))
    (folder / "aiml-course.sh").chmod(0o644)
    return folder


def bwrap_argv(view: View) -> list[str]:
    """bubblewrap (run as root, no user namespace) building the person's view, then setpriv dropping to them."""
    argv = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", view.hostname]
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", "/run",
             "--perms", "1777", "--tmpfs", "/var/tmp",
             "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    made: set[Path] = set()
    for path in (*view.read_only, *view.writable, view.home):   # folders above the binds (they hold nothing else)
        for parent in reversed(path.parents):
            if parent != Path("/") and parent not in made and parent.parts[1] not in SYSTEM_DIRS:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
    for path in view.read_only:
        argv += ["--ro-bind", str(path), str(path)]
    for path in (*view.writable, view.home):
        argv += ["--bind", str(path), str(path)]
    argv += ["--ro-bind", str(view.profile_dir), "/etc/profile.d", "--chdir", str(view.home)]
    argv += ["setpriv", f"--reuid={view.uid}", f"--regid={view.gid}", "--init-groups", "--inh-caps=-all",
             "--bounding-set=-all", "--no-new-privs", "--"]
    return argv


def nsenter_argv(net: HubNetwork, user: str) -> list[str]:
    return ["nsenter", f"--net={NETNS_DIR / net.netns(user)}", "--"]
