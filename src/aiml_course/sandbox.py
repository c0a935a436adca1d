"""Run one untrusted command with no network, a private filesystem view and hard resource limits.

Backends:
* `bwrap` — bubblewrap started as root *without* a user namespace (so the sandbox uid cannot map to host root),
  dropping to uid 65534 with no capabilities inside; cgroups (v1 or v2) for memory, pids and CPU; rlimits for
  CPU time and file size; a wall-clock kill from outside. Only /usr, a few /etc files, the Python environment and
  the job folder are visible.
* `forkserver` — the same isolation built by a warm, long-lived fork server (aiml_course.forkserver) that has
  imported numpy, torch and Lightning once and is shared by every grading process of the machine.
* `auto` (the default) — `forkserver` wherever it can run (root, namespaces), else `bwrap`, said once.
* `docker` — one fresh container per run.
* `none` — a plain subprocess with rlimits and the wall-clock kill: NO isolation; for trusted instructor code or
  machines without bubblewrap, and always announced as unsafe.

Job folders live under a root-only parent (`new_job_root()`); what a killed grader left behind (job mounts,
cgroups, their processes) is reclaimed when the next one starts, and a grader removes its own on exit.

Verdicts about limits are read from the kernel's accounting (cgroup files, wait status), never from the program.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from aiml_course.config import Limits
from aiml_course.errors import SandboxError, SandboxUnavailable

logger = logging.getLogger(__name__)

NOBODY = 65534
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "aiml-grading"
INSIDE_ROOT = "/job"
PRIVATE_ROOT = Path("/var/lib/aiml-grading")   # root-only (0700): job folders, the fork server's socket
WARM_IDLE_SECONDS = 900                        # a fork server with no client this long exits
SERVER_START_SECONDS = 240                     # importing torch + Lightning on a busy machine
_OWNER = re.compile(r"-o(\d+)t(\d+)-[0-9a-f]{8}$")


@dataclass(frozen=True)
class RunResult:
    """What happened to one sandboxed run, from the host's point of view."""

    exit_code: int | None          # None when killed by a signal
    signal: int | None
    timed_out: bool
    oom_killed: bool
    pids_limit_hit: bool
    wall_seconds: float
    max_memory_mb: float | None
    stdout: str                    # tails, for the staff log
    stderr: str
    output_truncated: bool = False  # stdout/stderr reached the output limit and the rest was dropped
    cpu_seconds: float | None = None  # user + system CPU of the run's processes that were waited for

    @property
    def reason(self) -> str:
        """A one-line explanation of an abnormal end, or '' for a normal exit."""
        if self.timed_out:
            return "ran past the time limit and was stopped"
        if self.oom_killed:
            return "used more memory than allowed and was stopped"
        if self.pids_limit_hit:
            return "started more processes or threads than allowed"
        if self.signal == signal.SIGXFSZ:
            return "wrote a file larger than allowed"
        if self.signal == signal.SIGXCPU:
            return "used more CPU time than allowed"
        if self.signal is not None:
            return f"was killed by signal {signal.Signals(self.signal).name}"
        if self.exit_code:
            return f"exited with status {self.exit_code}"
        return ""


def _start_time(pid: int) -> int | None:
    """The kernel's start time of process `pid` (clock ticks since boot), or None if it does not exist."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat_line.rsplit(")", 1)[1].split()[19])


def owner_tag() -> str:
    """This process, named so that a later grader can tell whether it is still alive: o<pid>t<start time>."""
    return f"o{os.getpid()}t{_start_time(os.getpid())}"


def _owner_alive(tag: str) -> bool:
    match = re.fullmatch(r"o(\d+)t(\d+)", tag)
    return match is not None and _start_time(int(match[1])) == int(match[2])


def private_root() -> Path:
    """A folder only this user can enter (root: /var/lib/aiml-grading), created 0700 and checked, never followed."""
    base = PRIVATE_ROOT if os.geteuid() == 0 else Path(tempfile.gettempdir()) / f"aiml-grading-{os.geteuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise SandboxUnavailable(f"{base} is not a folder of this user's: refusing to put grading jobs there")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(base, 0o700)
    return base


_cleanup_lock = threading.Lock()
_reclaimed = False


def _jobs_parent() -> Path:
    """This process's folder of job folders (reclaiming what dead graders left behind, once per process)."""
    global _reclaimed
    with _cleanup_lock:
        if not _reclaimed:
            _reclaimed = True
            reclaim_leftovers()
            atexit.register(_remove_own_jobs)
        jobs = private_root() / "jobs"
        jobs.mkdir(mode=0o700, exist_ok=True)
        parent = jobs / owner_tag()
        parent.mkdir(mode=0o700, exist_ok=True)
        return parent


def new_job_root() -> Path:
    """A fresh, empty job folder, 0700, owned by this user, under a root-only parent: no other user can list or
    read a submission, its data files or job.json while it is graded (the sandbox sees it only through mounts)."""
    return Path(tempfile.mkdtemp(prefix="aiml-job-", dir=_jobs_parent()))


def _mounts_under(folder: Path) -> list[str]:
    """Mount points at or below `folder`, deepest first (from /proc/self/mountinfo)."""
    prefix = str(folder)
    found = []
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    except OSError:
        return []
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def _remove_tree(folder: Path) -> None:
    for point in _mounts_under(folder):
        subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def _remove_own_jobs() -> None:
    """At exit: this process's job folders (and their mounts) and cgroups go with it."""
    _remove_tree(private_root() / "jobs" / owner_tag())
    _remove_cgroups(lambda tag: tag == owner_tag())


def _remove_cgroups(should_remove: Callable[[str], bool], names: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Kill the processes of, and remove, every grading cgroup (in every controller's hierarchy) whose owner tag
    `should_remove` accepts or whose name is in `names`."""
    hierarchies = [CGROUP_ROOT] + ([d for d in CGROUP_ROOT.iterdir() if d.is_dir()] if CGROUP_ROOT.is_dir() else [])
    for hierarchy in hierarchies:
        parent = hierarchy / CGROUP_PARENT
        if not parent.is_dir():
            continue
        for group in parent.iterdir():
            match = _OWNER.search(group.name)
            if not group.is_dir() or not (group.name in names or
                                          (match is not None and should_remove(f"o{match[1]}t{match[2]}"))):
                continue
            for child in [c for c in group.iterdir() if c.is_dir()]:  # e.g. a container docker left inside
                _kill_and_remove(child)
            _kill_and_remove(group)


def _kill_and_remove(group: Path) -> None:
    stale = Cgroup.__new__(Cgroup)
    stale.paths, stale.v2 = {"pids": group, "memory": group}, False
    stale.kill_all()
    stale.remove()


def reclaim_leftovers() -> None:
    """Remove what graders that died without cleaning up left behind: their job folders (unmounting the
    size-limited tmpfs mounts first), their cgroups and any process still inside them. Live graders' are kept."""
    jobs = private_root() / "jobs"
    if jobs.is_dir():
        for owner in jobs.iterdir():
            if not _owner_alive(owner.name):
                logger.info("removing job folders left by a grader that died: %s", owner)
                _remove_tree(owner)
    if os.geteuid() == 0:
        _remove_cgroups(lambda tag: not _owner_alive(tag))


class Cgroup:
    """A cgroup (v1 hierarchies or a v2 leaf) under `parent` with memory, pids and CPU limits, or nothing if not
    writable. Per grading run here; per user server on the hub (aiml_course.hub.spawner)."""

    def __init__(self, name: str, limits: Limits, *, parent: str = CGROUP_PARENT) -> None:
        self.paths: dict[str, Path] = {}
        self.v2 = (CGROUP_ROOT / "cgroup.controllers").is_file()
        try:
            if self.v2:
                self._setup_v2(name, limits, parent)
            else:
                self._setup_v1(name, limits, parent)
        except OSError as exc:
            logger.warning("cgroups not writable (%s): memory and pids limits fall back to rlimits", exc)
            self.remove()
            self.paths = {}

    def _setup_v1(self, name: str, limits: Limits, parent: str) -> None:
        for ctl in ("memory", "pids", "cpu"):
            path = CGROUP_ROOT / ctl / parent / name
            path.mkdir(parents=True, exist_ok=True)
            self.paths[ctl] = path
        mem = str(limits.memory_mb * 1024 * 1024)
        (self.paths["memory"] / "memory.limit_in_bytes").write_text(mem)
        memsw = self.paths["memory"] / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            memsw.write_text(mem)
        (self.paths["pids"] / "pids.max").write_text(str(limits.pids))
        (self.paths["cpu"] / "cpu.cfs_period_us").write_text("100000")
        (self.paths["cpu"] / "cpu.cfs_quota_us").write_text(str(int(limits.cpus * 100000)))
        if (CGROUP_ROOT / "cpuacct").is_dir() and not (CGROUP_ROOT / "cpu" / "cpuacct.usage").exists():
            path = CGROUP_ROOT / "cpuacct" / parent / name  # CPU accounting in its own hierarchy
            path.mkdir(parents=True, exist_ok=True)
            self.paths["cpuacct"] = path

    def _setup_v2(self, name: str, limits: Limits, parent_name: str) -> None:
        parent = CGROUP_ROOT / parent_name
        parent.mkdir(exist_ok=True)
        (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
        path = parent / name
        path.mkdir(exist_ok=True)
        self.paths = {"memory": path, "pids": path, "cpu": path}
        (path / "memory.max").write_text(str(limits.memory_mb * 1024 * 1024))
        if (path / "memory.swap.max").exists():
            (path / "memory.swap.max").write_text("0")
        (path / "pids.max").write_text(str(limits.pids))
        (path / "cpu.max").write_text(f"{int(limits.cpus * 100000)} 100000")

    @property
    def active(self) -> bool:
        return bool(self.paths)

    def join(self) -> None:
        """Called in the child between fork and exec: move it into every controller's cgroup."""
        self.attach(os.getpid())

    def attach(self, pid: int) -> None:
        """Move process `pid` into every controller's cgroup (its later children are born inside)."""
        for path in dict.fromkeys(self.paths.values()):
            (path / "cgroup.procs").write_text(str(pid))

    def _read(self, ctl: str, name: str) -> str:
        try:
            return (self.paths[ctl] / name).read_text()
        except (KeyError, OSError):
            return ""

    def oom_killed(self) -> bool:
        text = self._read("memory", "memory.events" if self.v2 else "memory.oom_control")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def pids_limit_hit(self) -> bool:
        for line in self._read("pids", "pids.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip() not in ("", "0"):
                return True
        return False

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used by every process that was in the cgroup, from the kernel's accounting."""
        if self.v2:
            for line in self._read("cpu", "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec" and value.strip().isdigit():
                    return round(int(value) / 1e6, 3)
            return None
        raw = self._read("cpuacct" if "cpuacct" in self.paths else "cpu", "cpuacct.usage").strip()
        return round(int(raw) / 1e9, 3) if raw.isdigit() else None

    def max_memory_mb(self) -> float | None:
        raw = self._read("memory", "memory.peak" if self.v2 else "memory.max_usage_in_bytes").strip()
        return round(int(raw) / 2**20, 1) if raw.isdigit() else None

    def kill_all(self) -> None:
        for _ in range(50):
            pids = [int(p) for p in self._read("pids", "cgroup.procs").split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        for path in dict.fromkeys(self.paths.values()):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _truncated(job_root: Path, limits: Limits) -> bool:
    """Did the program's stdout or stderr file reach the file-size limit (so later output was dropped)?"""
    cap = limits.output_mb * 2**20
    return any((job_root / f).exists() and (job_root / f).stat().st_size >= cap
               for f in ("sandbox.stdout", "sandbox.stderr"))


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - limit))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def late_file(data: bytes) -> int:
    """A memory-only file holding `data`, positioned at its start: the hidden material a runner reads on stdin.
    It lives in no folder, so nothing mounted into a sandbox can reach it; the caller closes it."""
    fd = os.memfd_create("aiml-late", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _cgroup_name(job_root: Path) -> str:
    """Named after the job and its grader, so that a later grader can remove it if this one dies."""
    return f"{job_root.name}-{owner_tag()}-{uuid.uuid4().hex[:8]}"


class Sandbox:
    """Runs `python <script> <args>` for a job folder laid out as in/ (read-only), work/ and out/."""

    name = "base"
    isolated = False

    def __init__(self, limits: Limits, *, python: str | None = None) -> None:
        self.limits = limits
        self.python = python or sys.executable

    def new_job_root(self) -> Path:
        """A fresh job folder for this sandbox, private to this user (see `new_job_root`)."""
        return new_job_root()

    def _command(self, job_root: Path, script: Path, script_args: list[str]) -> tuple[list[str], tuple[int, ...]]:
        """The command line and the file descriptors it needs passed on."""
        raise NotImplementedError

    def _env(self, job_root: Path) -> dict[str, str]:
        home = str(job_root / "work")
        return {"PATH": f"{Path(self.python).parent}:/usr/bin:/bin", "HOME": home, "MPLBACKEND": "Agg",
                "MPLCONFIGDIR": "/tmp", "IPYTHONDIR": "/tmp/ipython", "PYTHONDONTWRITEBYTECODE": "1",
                "AIML_HEADLESS": "1", "AIML_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1"}

    def _inside(self, job_root: Path, script: Path, script_args: list[str]) -> list[str]:
        """`script` and its arguments as the sandbox sees them. A script that lives outside the job (the notebook
        runner) is copied into in/ first: the sandbox's command line never shows where the grader's code lives."""
        if not Path(script).resolve().is_relative_to(job_root.resolve()):
            staged = job_root / "in" / Path(script).name
            shutil.copyfile(script, staged)
            os.chmod(staged, 0o644)
            script = staged
        return [a.replace(str(job_root), INSIDE_ROOT) for a in (str(script), *script_args)]

    def prepare(self, job_root: Path) -> None:
        """Give the unprivileged sandbox user the folders it may write."""
        for sub in ("work", "out"):
            (job_root / sub).mkdir(parents=True, exist_ok=True)

    def cleanup(self, job_root: Path) -> None:
        """Undo what prepare() mounted, so the job folder can be removed."""
        for sub in ("work", "out"):
            if os.path.ismount(job_root / sub):
                subprocess.run(["umount", "-l", str(job_root / sub)], capture_output=True)

    def run(self, job_root: Path, script: Path, script_args: list[str], *, late: bytes | None = None) -> RunResult:
        """Run `script` with `script_args` for the job in `job_root`, under the limits. `late` (the hidden probes
        and the seed) becomes the script's stdin, from a memory-only file that no folder of the sandbox holds."""
        self.prepare(job_root)
        cgroup = Cgroup(_cgroup_name(job_root), self.limits)
        limits = self.limits
        out_path, err_path = job_root / "sandbox.stdout", job_root / "sandbox.stderr"

        def in_child() -> None:
            if cgroup.active:
                cgroup.join()
            resource.setrlimit(resource.RLIMIT_CPU, (limits.wall_seconds, limits.wall_seconds + 5))
            size = limits.output_mb * 2**20
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if not cgroup.active:  # best effort without cgroups: address space instead of memory
                mem = limits.memory_mb * 2**20 * 4  # virtual size runs far above resident size for torch
                resource.setrlimit(resource.RLIMIT_AS, (mem, mem))

        argv, fds = self._command(job_root, script, script_args)
        start = time.monotonic()
        timed_out = False
        stdin = late_file(late) if late is not None else None
        try:
            with out_path.open("wb") as out, err_path.open("wb") as err:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin, stdout=out,
                                        stderr=err, pass_fds=fds, env=self._env(job_root), cwd=job_root / "work",
                                        preexec_fn=in_child, start_new_session=True)
                for fd in fds:
                    os.close(fd)
                fds = ()
                if stdin is not None:
                    os.close(stdin)
                    stdin = None
                usage = _wait_with_usage(proc, start + limits.wall_seconds)
                if usage is None:
                    timed_out = True
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    cgroup.kill_all()
                    usage = _wait_with_usage(proc, None)
        finally:
            for fd in (*fds, *(() if stdin is None else (stdin,))):
                os.close(fd)
        wall = time.monotonic() - start
        cgroup.kill_all()  # leftovers (double forks) never outlive the run
        rc = proc.returncode
        sig = -rc if rc < 0 else None
        if sig is None and self.isolated and 128 < rc <= 128 + 64:  # bwrap reports a signalled child as 128+n
            sig = rc - 128
        result = RunResult(
            exit_code=rc if sig is None else None, signal=sig, timed_out=timed_out,
            oom_killed=cgroup.oom_killed(), pids_limit_hit=cgroup.pids_limit_hit(), wall_seconds=round(wall, 3),
            max_memory_mb=cgroup.max_memory_mb(), stdout=_tail(out_path), stderr=_tail(err_path),
            output_truncated=_truncated(job_root, limits),
            cpu_seconds=cgroup.cpu_seconds() if cgroup.active else (
                round(usage.ru_utime + usage.ru_stime, 3) if usage is not None and not self.isolated else None))
        cgroup.remove()
        return result


def _wait_with_usage(proc: subprocess.Popen[bytes], deadline: float | None) -> resource.struct_rusage | None:
    """Wait for `proc` (until `deadline`, a monotonic time) and return its resource usage, which includes its
    waited-for descendants; None past the deadline. Sets proc.returncode like Popen.wait."""
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if deadline is None else os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.01)


class LocalSandbox(Sandbox):
    """No isolation: a subprocess with rlimits and a wall-clock kill. Only for trusted code."""

    name = "none"
    isolated = False

    def _command(self, job_root: Path, script: Path, script_args: list[str]) -> tuple[list[str], tuple[int, ...]]:
        return [self.python, str(script), *script_args], ()

    def _env(self, job_root: Path) -> dict[str, str]:
        env = super()._env(job_root)
        env["MPLCONFIGDIR"] = str(job_root / "work" / ".mpl")
        env["IPYTHONDIR"] = str(job_root / "work" / ".ipython")
        return env


class BwrapSandbox(Sandbox):
    """bubblewrap, started as root without a user namespace, dropping to uid 65534 inside."""

    name = "bwrap"
    isolated = True

    def __init__(self, limits: Limits, *, python: str | None = None, extra_ro: tuple[Path, ...] = ()) -> None:
        super().__init__(limits, python=python)
        self.bwrap = shutil.which("bwrap")
        self.setpriv = shutil.which("setpriv")
        if self.bwrap is None or self.setpriv is None:
            raise SandboxUnavailable(
                "bubblewrap is not installed: `apt-get install bubblewrap` (or set sandbox backend 'none' for "
                "trusted code only)")
        if os.geteuid() != 0:
            raise SandboxUnavailable("the bwrap backend starts as root and drops to uid 65534; run as root")
        self.extra_ro = extra_ro

    def prepare(self, job_root: Path) -> None:
        for sub, size in (("work", self.limits.disk_mb), ("out", 16)):
            folder = job_root / sub
            folder.mkdir(parents=True, exist_ok=True)
            if not os.path.ismount(folder):  # a size-limited tmpfs: filling it cannot fill the host's disk
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}m,mode=0755,nosuid,nodev",
                                "tmpfs", str(folder)], check=True, capture_output=True)
        # job_root itself stays as created (0700 under a root-only parent): the sandbox reaches in/, work/ and
        # out/ through mounts made as root, and no other user of the machine reaches them at all
        for sub in ("work", "out"):
            for dirpath, _dirs, files in os.walk(job_root / sub):
                os.chown(dirpath, NOBODY, NOBODY)
                for f in files:
                    os.chown(os.path.join(dirpath, f), NOBODY, NOBODY)
        for dirpath, _dirs, files in os.walk(job_root / "in"):
            os.chmod(dirpath, 0o755)
            for f in files:
                os.chmod(os.path.join(dirpath, f), 0o644)

    def _python_roots(self) -> list[Path]:
        """Folders to show read-only: the venv, its base Python, and where our two packages are installed.

        Deliberately not every sys.path entry: a test runner or a script may have put the course folder
        (with autograder/ and source/) on sys.path, and that must never become visible.
        """
        import aiml_course
        import aiml_notebooks

        roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sysconfig.get_paths()["stdlib"]).parent,
                 Path(aiml_course.__file__).resolve().parent.parent,
                 Path(aiml_notebooks.__file__).resolve().parent.parent, *self.extra_ro}
        ordered = sorted((r.resolve() for r in roots if r.exists()), key=lambda p: len(p.parts))
        kept: list[Path] = []
        for r in ordered:  # bind the outermost folders only
            if str(r).startswith("/usr") or any(r.is_relative_to(k) for k in kept):
                continue
            if (r / "autograder").exists() or (r / "course_config.py").exists():
                raise SandboxUnavailable(f"refusing to show {r} to student code: it holds the course itself; "
                                         "install the package (pip install .) or use the src/ layout")
            kept.append(r)
        return kept

    def _options(self, job_root: Path) -> list[str]:
        """bubblewrap's options: handed over through a file descriptor (`--args`), so that the sandbox's PID 1,
        whose command line any process inside can read, shows none of the host paths bound into it."""
        argv = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin"]
        for etc in ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime", "/etc/fonts", "/etc/ssl",
                    "/etc/mime.types", "/etc/matplotlibrc"):
            argv += ["--ro-bind-try", etc, etc]
        argv += ["--perms", "1777", "--tmpfs", "/tmp"]  # first: a venv living under /tmp is bound on top of it
        roots = self._python_roots()
        parents = sorted({str(p) for r in roots for p in r.parents if str(p) != "/"} | {INSIDE_ROOT},
                         key=lambda p: p.count("/"))
        for parent in parents:  # bwrap would create missing parents 0700, unreadable for uid 65534
            argv += ["--perms", "0755", "--dir", parent]
        for root in roots:
            argv += ["--ro-bind", str(root), str(root)]
        argv += ["--ro-bind", str(job_root / "in"), f"{INSIDE_ROOT}/in",
                 "--bind", str(job_root / "work"), f"{INSIDE_ROOT}/work",
                 "--bind", str(job_root / "out"), f"{INSIDE_ROOT}/out",
                 "--proc", "/proc", "--dev", "/dev",
                 "--die-with-parent", "--new-session", "--hostname", "sandbox", "--chdir", f"{INSIDE_ROOT}/work",
                 "--clearenv"]
        for key, value in self._env(job_root).items():
            argv += ["--setenv", key, value]
        return [*argv, "--remount-ro", "/"]

    def _command(self, job_root: Path, script: Path, script_args: list[str]) -> tuple[list[str], tuple[int, ...]]:
        assert self.bwrap is not None and self.setpriv is not None
        inside = self._inside(job_root, script, script_args)
        read_end, write_end = os.pipe()
        data = b"".join(o.encode() + b"\0" for o in self._options(job_root))
        if len(data) > 60000:  # more than a pipe holds without a reader: go through a file instead
            os.close(read_end)
            os.close(write_end)
            options = job_root / "bwrap.options"
            options.write_bytes(data)
            read_end = os.open(options, os.O_RDONLY)
        else:
            os.write(write_end, data)
            os.close(write_end)
        # `python` found through PATH (the environment's bin folder comes first), not by its host path
        return ([self.bwrap, "--args", str(read_end), self.setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
                 Path(self.python).name, *inside], (read_end,))

    def _env(self, job_root: Path) -> dict[str, str]:
        env = super()._env(job_root)
        env["HOME"] = f"{INSIDE_ROOT}/work"
        return env


_code_keys: dict[str, str] = {}


def _code_key(python: str) -> str:
    """Names the fork server for this Python and this exact version of the code it preloads (the server module and
    the student library): a server started before that code changed is never used again (it exits when idle)."""
    if python not in _code_keys:
        import aiml_notebooks

        digest = hashlib.sha256(os.path.realpath(python).encode() + python.encode())
        files = [Path(__file__).with_name("forkserver.py"),
                 *sorted(Path(aiml_notebooks.__file__).resolve().parent.rglob("*.py"))]
        for path in files:
            info = path.stat()
            digest.update(f"{path}:{info.st_mtime_ns}:{info.st_size};".encode())
        _code_keys[python] = digest.hexdigest()[:20]
    return _code_keys[python]


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    return conn


def connect_warm_server(python: str, env: dict[str, str], *, idle_seconds: float = WARM_IDLE_SECONDS,
                        name: str = "") -> socket.socket:
    """A connection to this machine's warm fork server for `python`, started now if none is running.

    The server is shared by every grading process (course grade, validate, build, the hub's collect): it pays the
    torch + Lightning imports once and exits after `idle_seconds` without clients. It starts from `env` only —
    the environment sandboxed programs get — and its socket sits in a root-only folder, mode 0600.
    """
    folder = private_root() / "forkserver"
    folder.mkdir(mode=0o700, exist_ok=True)
    key = _code_key(python) + (f"-{name}" if name else "")
    path = folder / f"{key}.sock"
    conn = _connect(path)
    if conn is not None:
        return conn
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one grader starts it; the others wait and then connect
        conn = _connect(path)
        if conn is not None:
            return conn
        logger.info("starting the warm grading server (imports numpy, torch, Lightning once)")
        config = {"socket": str(path), "idle_seconds": idle_seconds, "private_dir": str(folder)}
        try:
            proc = subprocess.Popen(["python", "-m", "aiml_course.forkserver"], executable=python, env=env, cwd="/",
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            raise SandboxUnavailable(f"the warm grading server could not be started: {exc}") from exc
        try:
            out, err = proc.communicate(json.dumps(config).encode() + b"\n", timeout=SERVER_START_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise SandboxUnavailable(f"the warm grading server did not start in {SERVER_START_SECONDS} s") from None
        conn = _connect(path)
        if proc.returncode != 0 or conn is None:
            raise SandboxUnavailable("the warm grading server did not start: "
                                     + (err or out).decode(errors="replace").strip()[-500:])
        return conn


class ForkServerSandbox(BwrapSandbox):
    """The bwrap backend's isolation, built by the machine's warm fork server (aiml_course.forkserver), which has
    imported numpy, torch and Lightning once: each notebook runs in a freshly forked child with its own
    namespaces, cgroup and uid, so the imports cost nothing per submission.

    Each grading thread holds one connection to the server (served by its own forked handler); the server is
    shared by every grading process of the machine and outlives this object until it has been idle for
    `idle_seconds`. With a `fallback`, a server that cannot start hands its work to that sandbox (said once).
    `server_name` asks for a server of its own instead of the machine's shared one (tests).
    """

    name = "forkserver"
    isolated = True

    def __init__(self, limits: Limits, *, python: str | None = None, idle_seconds: float = WARM_IDLE_SECONDS,
                 fallback: Sandbox | None = None, server_name: str = "") -> None:
        Sandbox.__init__(self, limits, python=python)
        self.server_name = server_name
        if os.geteuid() != 0:
            raise SandboxUnavailable("the forkserver backend needs root (it builds namespaces itself)")
        self.extra_ro: tuple[Path, ...] = ()
        self.idle_seconds = idle_seconds
        self.fallback = fallback
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []

    def _connection(self) -> tuple[socket.socket, Any]:
        held = getattr(self._local, "held", None)
        if held is not None:
            return held
        conn = connect_warm_server(self.python, self._env(Path(INSIDE_ROOT)), idle_seconds=self.idle_seconds,
                                   name=self.server_name)
        held = (conn, conn.makefile("rb"))
        self._local.held = held
        with self._lock:
            self._connections.append(conn)
        return held

    def _drop_connection(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held[1].close()
            held[0].close()

    def warm_up(self) -> None:
        """Start (or reach) the warm server now, e.g. when the hub starts, instead of at the first notebook."""
        self._connection()

    def close(self) -> None:
        """Close this grader's connections. The server lives on for the next grader until it is idle."""
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except OSError:
                    pass
            self._connections.clear()
        self._local = threading.local()

    def run(self, job_root: Path, script: Path, script_args: list[str], *, late: bytes | None = None) -> RunResult:
        if self.fallback is not None and getattr(self, "_using_fallback", False):
            return self.fallback.run(job_root, script, script_args, late=late)
        try:
            conn, reader = self._connection()
        except SandboxUnavailable as exc:
            if self.fallback is None:
                raise
            _notice_once(f"{exc}; grading with the {self.fallback.name} backend instead (slower)")
            self._using_fallback = True
            return self.fallback.run(job_root, script, script_args, late=late)
        self.prepare(job_root)
        (job_root / "root").mkdir(exist_ok=True)
        inside = self._inside(job_root, script, script_args)
        cgroup = Cgroup(_cgroup_name(job_root), self.limits)
        limits = self.limits
        request = {
            "job_root": str(job_root), "root": str(job_root / "root"),
            "ro_paths": [str(p) for p in self._python_roots()],
            "cgroup_procs": [str(p / "cgroup.procs") for p in dict.fromkeys(cgroup.paths.values())],
            "limits": {"cpu_seconds": limits.wall_seconds, "fsize": limits.output_mb * 2**20,
                       "wall_seconds": limits.wall_seconds},
            "env": self._env(job_root), "script": inside[0], "args": inside[1:], "stdin": late is not None,
        }
        try:
            conn.settimeout(limits.wall_seconds + 60)
            if late is not None:  # the descriptor itself travels (SCM_RIGHTS); its bytes never pass the server
                stdin = late_file(late)
                try:
                    socket.send_fds(conn, [b"\n"], [stdin])
                finally:
                    os.close(stdin)
            conn.sendall(json.dumps(request).encode() + b"\n")
            line = reader.readline()
            reply = json.loads(line) if line else {"error": "the fork server closed the connection"}
        except (OSError, ValueError) as exc:
            reply = {"error": f"no answer from the fork server ({type(exc).__name__})"}
        finally:
            cgroup.kill_all()
        if not isinstance(reply, dict) or "exit" not in reply:
            self._drop_connection()
            cgroup.remove()
            raise SandboxError(f"fork server failed: {reply.get('error') if isinstance(reply, dict) else reply}")
        rc = int(reply["exit"])
        sig = -rc if rc < 0 else (rc - 128 if 128 < rc <= 192 else None)
        result = RunResult(
            exit_code=rc if sig is None else None, signal=sig, timed_out=bool(reply["timed_out"]),
            oom_killed=cgroup.oom_killed(), pids_limit_hit=cgroup.pids_limit_hit(),
            wall_seconds=float(reply["wall"]), max_memory_mb=cgroup.max_memory_mb(),
            stdout=_tail(job_root / "sandbox.stdout"), stderr=_tail(job_root / "sandbox.stderr"),
            output_truncated=_truncated(job_root, limits),
            cpu_seconds=cgroup.cpu_seconds() if cgroup.active else (
                float(reply["cpu"]) if isinstance(reply.get("cpu"), (int, float)) else None))
        cgroup.remove()
        return result


class DockerSandbox(BwrapSandbox):
    """One fresh container per notebook: no network, memory/pids/CPU limits, uid 65534, read-only root,
    no capabilities, no_new_privs; killed and removed on timeout. Needs a Docker daemon and the grading image
    (`scripts/docker-grading.sh start` and `image`); the Python environment is bind-mounted read-only."""

    name = "docker"
    isolated = True
    IMAGE = os.environ.get("AIML_DOCKER_IMAGE", "aiml-grading:bookworm")

    def __init__(self, limits: Limits, *, python: str | None = None) -> None:
        Sandbox.__init__(self, limits, python=python)
        self.extra_ro: tuple[Path, ...] = ()
        self.docker = shutil.which("docker")
        if self.docker is None:
            raise SandboxUnavailable("the docker backend needs the docker client and a daemon")
        self.env = dict(os.environ)
        if "DOCKER_HOST" not in self.env and Path("/srv/aiml-docker/docker.sock").exists():
            self.env["DOCKER_HOST"] = "unix:///srv/aiml-docker/docker.sock"  # scripts/docker-grading.sh
        probe = subprocess.run([self.docker, "image", "inspect", self.IMAGE], capture_output=True, env=self.env)
        if probe.returncode != 0:
            raise SandboxUnavailable(f"no Docker daemon with image {self.IMAGE}: run scripts/docker-grading.sh "
                                     "start && scripts/docker-grading.sh image")
        self._reclaim_containers()

    OWNER_LABEL = "aiml-grading.owner"
    _reclaimed_daemons: ClassVar[set[str]] = set()

    def _reclaim_containers(self) -> None:
        """Once per process and daemon: remove the containers of graders that died (killed while a container ran,
        so neither their `docker rm` nor the container's removal happened); every container is labelled with
        this boot of the kernel and its grader's owner tag (a daemon shared with other machines keeps theirs).
        A live grader's containers are kept."""
        daemon = self.env.get("DOCKER_HOST", "")
        if daemon in DockerSandbox._reclaimed_daemons:
            return
        DockerSandbox._reclaimed_daemons.add(daemon)
        listed = self._docker("ps", "-a", "--filter", f"label={self.OWNER_LABEL}",
                              "--format", f'{{{{.ID}}}} {{{{.Label "{self.OWNER_LABEL}"}}}}')
        dead = []
        for line in listed.stdout.splitlines():
            cid, _, label = line.partition(" ")
            boot, _, tag = label.strip().rpartition("/")
            if cid and boot == _boot_id() and not _owner_alive(tag):
                dead.append(cid)
        if dead:
            logger.info("removing %d containers left by graders that died", len(dead))
            self._docker("rm", "-f", *dead)

    def _docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.docker, *args], capture_output=True, text=True, env=self.env, timeout=timeout)

    def _cgroup_driver(self) -> str:
        if not hasattr(self, "_driver"):
            self._driver = self._docker("info", "-f", "{{.CgroupDriver}}").stdout.strip()
        return self._driver

    def run(self, job_root: Path, script: Path, script_args: list[str], *, late: bytes | None = None) -> RunResult:
        """`late` reaches the container's stdin only: `docker run -i -a stdin` feeds it from a memory-only file
        (the client attaches stdin alone, so the container's output goes only to its capped log)."""
        self.prepare(job_root)
        limits = self.limits
        # the container's cgroup goes under one of ours (cgroupfs driver), which holds the pids limit and keeps the
        # peak memory and the peak process count after docker removes the container's own cgroup (see
        # _pids_limit_reached: on cgroup v1 the kernel counts a refused fork only in the container's cgroup)
        cgroup = Cgroup(_cgroup_name(job_root), limits) if self._cgroup_driver() == "cgroupfs" else None
        if cgroup is not None and not cgroup.active:
            cgroup = None
        # --init: a tiny PID 1 reaps, so the notebook is not PID 1 (which ignores even its own SIGKILL)
        cidfile = job_root / "docker.cid"  # job_root itself is never mounted into the container
        argv = ["run", "-i", "-a", "stdin", "--cidfile", str(cidfile), "--init", "--network", "none",
                "--label", f"{self.OWNER_LABEL}={_boot_id()}/{owner_tag()}",
                "--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m",
                "--cpus", str(limits.cpus), "--user", f"{NOBODY}:{NOBODY}", "--read-only",
                "--tmpfs", "/tmp:rw,size=512m,mode=1777", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--ulimit", "core=0",
                "--ulimit", f"fsize={limits.output_mb * 2**20}", "--ulimit", f"cpu={limits.wall_seconds}",
                # what the daemon keeps of stdout/stderr is capped, and so is what we read back (_capped_logs)
                "--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=1",
                "--hostname", "sandbox", "-w", f"{INSIDE_ROOT}/work"]
        if cgroup is not None:  # the pids limit is ours alone, so the container's processes reach it here
            hierarchy = CGROUP_ROOT if cgroup.v2 else CGROUP_ROOT / "pids"  # v2: one tree, no per-controller folder
            argv += ["--cgroup-parent", "/" + str(cgroup.paths["pids"].relative_to(hierarchy))]
        else:
            argv += ["--pids-limit", str(limits.pids)]
        for root in self._python_roots():
            argv += ["-v", f"{root}:{root}:ro"]
        argv += ["-v", f"{job_root / 'in'}:{INSIDE_ROOT}/in:ro", "-v", f"{job_root / 'work'}:{INSIDE_ROOT}/work",
                 "-v", f"{job_root / 'out'}:{INSIDE_ROOT}/out"]
        for key, value in self._env(job_root).items():
            argv += ["-e", f"{key}={value}"]
        inside = self._inside(job_root, script, script_args)
        start = time.monotonic()
        stdin = late_file(late) if late is not None else None
        timed_out = False
        with tempfile.TemporaryFile() as client_err:  # only docker's own messages: the container's are not attached
            try:
                proc = subprocess.Popen([self.docker, *argv, self.IMAGE, Path(self.python).name, *inside],
                                        stdin=subprocess.DEVNULL if stdin is None else stdin,
                                        stdout=subprocess.DEVNULL, stderr=client_err, env=self.env)
            finally:
                if stdin is not None:
                    os.close(stdin)
            try:
                rc = proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:  # killing the client would leave the container: kill the container
                timed_out = True
                cid = self._cid(cidfile)
                if cid:
                    self._docker("kill", cid)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                rc = 137
            client_err.seek(0)
            complaint = client_err.read(2000).decode("utf-8", errors="replace").strip()
        cid = self._cid(cidfile)
        if not cid or (rc in (125, 126, 127) and complaint and not timed_out):  # docker's failure, not the run's
            if cid:
                self._docker("rm", "-f", cid)
            if cgroup is not None:
                cgroup.remove()
            raise SandboxError(f"docker run failed: {complaint[:500] or f'status {rc}'}")
        wall = time.monotonic() - start
        state = self._docker("inspect", "-f", "{{.State.OOMKilled}}", cid).stdout.strip()
        stdout, stderr, truncated = self._capped_logs(cid, limits.output_mb * 2**20)
        self._docker("rm", "-f", cid)
        if cgroup is not None:
            cgroup.kill_all()
            pids_hit, peak = self._pids_limit_reached(cgroup), cgroup.max_memory_mb()
            cgroup.remove()
            _remove_cgroups(lambda tag: False, names={cgroup.paths["pids"].name})
        else:
            pids_hit, peak = self._cgroup_facts(cid)
        sig = rc - 128 if 128 < rc <= 192 else None
        return RunResult(exit_code=rc if sig is None else None, signal=sig, timed_out=timed_out,
                         oom_killed=state == "true", pids_limit_hit=pids_hit, wall_seconds=round(wall, 3),
                         max_memory_mb=peak, stdout=stdout, stderr=stderr, output_truncated=truncated)

    @staticmethod
    def _pids_limit_reached(cgroup: Cgroup) -> bool:
        """Did the container's processes and threads reach the pids limit of our parent cgroup? A refused fork is
        counted in `pids.events` of the forking process's cgroup (cgroup v1, and v2 before Linux 6.11) or also up
        the tree (v2 since 6.11): docker removes the container's own cgroup, so ours may show 0. What ours keeps
        either way is `pids.peak` (Linux >= 6.1), the most processes it ever held: a fork is refused only when
        that count stands at `pids.max`, so a refused fork always shows as peak == max (as does a run that used
        exactly the limit and asked for no more, which the kernel does not tell apart once the container's
        cgroup is gone)."""
        if cgroup.pids_limit_hit():
            return True
        try:
            peak = (cgroup.paths["pids"] / "pids.peak").read_text().strip()
            limit = (cgroup.paths["pids"] / "pids.max").read_text().strip()
        except (KeyError, OSError):
            return False
        return peak.isdigit() and limit.isdigit() and int(peak) >= int(limit)

    @staticmethod
    def _cid(cidfile: Path) -> str:
        try:
            return cidfile.read_text()[:100].strip()
        except OSError:
            return ""

    def _capped_logs(self, cid: str, cap: int, keep: int = 8000) -> tuple[str, str, bool]:
        """The tails of the container's stdout and stderr, reading at most `cap` bytes of each: a container that
        printed gigabytes cannot grow the grader."""
        assert self.docker is not None
        tails: list[str] = []
        truncated = False
        for stream in ("stdout", "stderr"):
            with tempfile.TemporaryFile() as sink:
                other = subprocess.DEVNULL
                proc = subprocess.Popen([self.docker, "logs", cid],
                                        stdout=sink if stream == "stdout" else other,
                                        stderr=sink if stream == "stderr" else other, env=self.env)
                while proc.poll() is None:
                    if sink.tell() > cap or os.fstat(sink.fileno()).st_size > cap:
                        proc.kill()
                        truncated = True
                        break
                    time.sleep(0.01)
                proc.wait()
                size = os.fstat(sink.fileno()).st_size
                truncated = truncated or size >= cap
                sink.seek(max(0, size - keep))
                tails.append(sink.read(keep).decode("utf-8", errors="replace"))
        return tails[0], tails[1], truncated

    @staticmethod
    def _cgroup_facts(cid: str) -> tuple[bool, float | None]:
        """pids limit hit and peak memory from the container's cgroup (cgroupfs driver), if readable."""
        pids_hit, peak = False, None
        for base in (CGROUP_ROOT / "pids" / "docker" / cid, CGROUP_ROOT / "system.slice" / f"docker-{cid}.scope"):
            events = base / "pids.events"
            if events.exists():
                pids_hit = any(line.split()[0] == "max" and line.split()[1] != "0"
                               for line in events.read_text().splitlines() if line.strip())
        usage = CGROUP_ROOT / "memory" / "docker" / cid / "memory.max_usage_in_bytes"
        if usage.exists() and usage.read_text().strip().isdigit():
            peak = round(int(usage.read_text()) / 2**20, 1)
        return pids_hit, peak


def _boot_id() -> str:
    """This boot of the kernel (owner tags name a pid and start time, meaningful only within one boot)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


_kept_warm: set[str] = set()


def keep_warm(sandbox: Sandbox) -> None:
    """Start the warm server now and keep it alive for as long as this process lives (the hub calls this when it
    starts): a background thread holds one connection, so the server never reaches its idle timeout and no
    collect pays its start-up. Once per process and server; does nothing for backends without a warm server."""
    if not isinstance(sandbox, ForkServerSandbox):
        return
    key = f"{sandbox.python}:{sandbox.server_name}"
    with _cleanup_lock:
        if key in _kept_warm:
            return
        _kept_warm.add(key)

    def hold() -> None:
        try:
            sandbox.warm_up()
        except SandboxUnavailable as exc:
            _notice_once(f"the warm grading server could not be started: {exc}")
            return
        threading.Event().wait()  # the thread-local connection stays open until the process exits

    threading.Thread(target=hold, name="warm-grading-server", daemon=True).start()


_notices: set[str] = set()


def _notice_once(text: str) -> None:
    """Warn once per process (a fallback is said once, not per notebook)."""
    if text not in _notices:
        _notices.add(text)
        logger.warning("%s", text)


_forkserver_reason: list[str | None] = []


def forkserver_unavailable() -> str | None:
    """Why the fork server cannot isolate here (not root, namespaces refused), or None when it can."""
    if _forkserver_reason:
        return _forkserver_reason[0]
    reason = None
    if os.geteuid() != 0:
        reason = "it needs root"
    elif shutil.which("bwrap") is None or shutil.which("setpriv") is None:
        reason = "bubblewrap is not installed (the fallback needs it)"
    else:
        probe = [shutil.which("unshare") or "unshare", "--mount", "--pid", "--net", "--ipc", "--uts", "--fork",
                 "true"]
        try:
            done = subprocess.run(probe, capture_output=True, timeout=30)
            if done.returncode != 0:
                reason = f"new namespaces are refused ({done.stderr.decode(errors='replace').strip()[:200]})"
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = f"new namespaces could not be tried ({exc})"
    _forkserver_reason.append(reason)
    return reason


def make_sandbox(backend: str, limits: Limits) -> Sandbox:
    """The sandbox for `backend`: 'auto' (the default: the warm fork server wherever it can run, else bwrap, said
    once), 'forkserver', 'bwrap', 'docker' or 'none' (no isolation, trusted code only)."""
    if backend == "auto":
        reason = forkserver_unavailable()
        if reason is None:
            return ForkServerSandbox(limits, fallback=BwrapSandbox(limits))
        _notice_once(f"the warm fork-server sandbox cannot run here ({reason}); grading with bwrap, which "
                     "re-imports the notebook's libraries for every notebook (slower)")
        return BwrapSandbox(limits)
    if backend == "bwrap":
        return BwrapSandbox(limits)
    if backend == "forkserver":
        return ForkServerSandbox(limits)
    if backend == "docker":
        return DockerSandbox(limits)
    if backend == "none":
        logger.warning("sandbox backend 'none': student code runs WITHOUT isolation (trusted code only)")
        return LocalSandbox(limits)
    raise SandboxUnavailable(f"unknown sandbox backend {backend!r}; choose one of auto, forkserver, bwrap, docker, "
                             "none")
