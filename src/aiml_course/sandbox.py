"""Run one untrusted command with no network, a private filesystem view and hard resource limits.

Backends:
* `bwrap` — bubblewrap started as root *without* a user namespace (so the sandbox uid cannot map to host root),
  dropping to uid 65534 with no capabilities inside; cgroups (v1 or v2) for memory, pids and CPU; rlimits for
  CPU time and file size; a wall-clock kill from outside. Only /usr, a few /etc files, the Python environment and
  the job folder are visible.
* `none` — a plain subprocess with rlimits and the wall-clock kill: NO isolation; for trusted instructor code or
  machines without bubblewrap, and always announced as unsafe.

Verdicts about limits are read from the kernel's accounting (cgroup files, wait status), never from the program.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiml_course.config import Limits
from aiml_course.errors import SandboxError, SandboxUnavailable

logger = logging.getLogger(__name__)

NOBODY = 65534
CGROUP_ROOT = Path("/sys/fs/cgroup")
INSIDE_ROOT = "/job"


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


class Cgroup:
    """A cgroup (v1 hierarchies or a v2 leaf) under `parent` with memory, pids and CPU limits, or nothing if not
    writable. Per grading run here; per user server on the hub (aiml_course.hub.spawner)."""

    def __init__(self, name: str, limits: Limits, *, parent: str = "aiml-grading") -> None:
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


class Sandbox:
    """Runs `python <runner> <job.json>` for a job folder laid out as in/ (read-only), work/ and out/."""

    name = "base"
    isolated = False

    def __init__(self, limits: Limits, *, python: str | None = None) -> None:
        self.limits = limits
        self.python = python or sys.executable

    def _argv(self, job_root: Path, script: Path, script_args: list[str]) -> list[str]:
        raise NotImplementedError

    def _env(self, job_root: Path) -> dict[str, str]:
        home = str(job_root / "work")
        return {"PATH": f"{Path(self.python).parent}:/usr/bin:/bin", "HOME": home, "MPLBACKEND": "Agg",
                "MPLCONFIGDIR": "/tmp", "IPYTHONDIR": "/tmp/ipython", "PYTHONDONTWRITEBYTECODE": "1",
                "AIML_HEADLESS": "1", "AIML_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1"}

    def prepare(self, job_root: Path) -> None:
        """Give the unprivileged sandbox user the folders it may write."""
        for sub in ("work", "out"):
            (job_root / sub).mkdir(parents=True, exist_ok=True)

    def cleanup(self, job_root: Path) -> None:
        """Undo what prepare() mounted, so the job folder can be removed."""
        for sub in ("work", "out"):
            if os.path.ismount(job_root / sub):
                subprocess.run(["umount", "-l", str(job_root / sub)], capture_output=True)

    def run(self, job_root: Path, script: Path, script_args: list[str]) -> RunResult:
        """Run `script` with `script_args` for the job in `job_root`, under the limits."""
        self.prepare(job_root)
        cgroup = Cgroup(f"{job_root.name}-{uuid.uuid4().hex[:8]}", self.limits)
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

        argv = self._argv(job_root, script, script_args)
        start = time.monotonic()
        timed_out = False
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=self._env(job_root), cwd=job_root / "work", preexec_fn=in_child,
                                    start_new_session=True)
            try:
                proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                cgroup.kill_all()
                proc.wait()
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
            output_truncated=_truncated(job_root, limits))
        cgroup.remove()
        return result


class LocalSandbox(Sandbox):
    """No isolation: a subprocess with rlimits and a wall-clock kill. Only for trusted code."""

    name = "none"
    isolated = False

    def _argv(self, job_root: Path, script: Path, script_args: list[str]) -> list[str]:
        return [self.python, str(script), *script_args]

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
        os.chmod(job_root, 0o755)
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

    def _argv(self, job_root: Path, script: Path, script_args: list[str]) -> list[str]:
        argv = [self.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try",
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
        argv += ["--remount-ro", "/",
                 self.setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs",
                 self.python, *[a.replace(str(job_root), INSIDE_ROOT) for a in (str(script), *script_args)]]
        return argv

    def _env(self, job_root: Path) -> dict[str, str]:
        env = super()._env(job_root)
        env["HOME"] = f"{INSIDE_ROOT}/work"
        return env


class ForkServerSandbox(BwrapSandbox):
    """The bwrap backend's isolation, built by a fork server that has imported numpy, torch and Lightning once.

    One server per grading thread; each notebook runs in a freshly forked child with its own namespaces,
    cgroup and uid, so the imports cost nothing per submission (see aiml_course.grading.forkserver).
    """

    name = "forkserver"
    isolated = True

    def __init__(self, limits: Limits, *, python: str | None = None) -> None:
        Sandbox.__init__(self, limits, python=python)
        if os.geteuid() != 0:
            raise SandboxUnavailable("the forkserver backend needs root (it builds namespaces itself)")
        self.extra_ro: tuple[Path, ...] = ()
        self._local = threading.local()
        self._servers: list[subprocess.Popen[str]] = []

    def _server(self) -> subprocess.Popen[str]:
        proc = getattr(self._local, "server", None)
        if proc is not None and proc.poll() is None:
            return proc
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIML_", "JUPYTER"))}
        env.update({"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        proc = subprocess.Popen([self.python, "-m", "aiml_course.grading.forkserver"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                                start_new_session=True)
        ready = self._read_line(proc, 180)
        if not ready.get("ready"):
            proc.kill()
            raise SandboxUnavailable(f"the fork server did not start: {ready}")
        self._local.server = proc
        self._servers.append(proc)
        return proc

    @staticmethod
    def _read_line(proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
        import json
        import select

        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        try:
            return dict(json.loads(line)) if line else {"error": "no answer from the fork server"}
        except ValueError:
            return {"error": f"unreadable answer from the fork server: {line[:200]!r}"}

    def close(self) -> None:
        for proc in self._servers:
            proc.kill()
            proc.wait()
        self._servers.clear()

    def run(self, job_root: Path, script: Path, script_args: list[str]) -> RunResult:
        import json

        from aiml_course.grading.engine import RUNNER

        self.prepare(job_root)
        (job_root / "root").mkdir(exist_ok=True)
        cgroup = Cgroup(f"{job_root.name}-{uuid.uuid4().hex[:8]}", self.limits)
        limits = self.limits
        env = self._env(job_root)
        request = {
            "job_root": str(job_root), "root": str(job_root / "root"),
            "ro_paths": [str(p) for p in self._python_roots()],
            "cgroup_procs": [str(p / "cgroup.procs") for p in dict.fromkeys(cgroup.paths.values())],
            "limits": {"cpu_seconds": limits.wall_seconds, "fsize": limits.output_mb * 2**20,
                       "wall_seconds": limits.wall_seconds},
            "env": env,
        }
        if script.resolve() != RUNNER.resolve():
            request["script"] = str(script).replace(str(job_root), INSIDE_ROOT)
            request["args"] = [a.replace(str(job_root), INSIDE_ROOT) for a in script_args]
        server = self._server()
        assert server.stdin is not None
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        reply = self._read_line(server, limits.wall_seconds + 60)
        cgroup.kill_all()
        if "exit" not in reply:
            server.kill()
            raise SandboxError(f"fork server failed: {reply.get('error')}")
        rc = int(reply["exit"])  # type: ignore[arg-type]
        sig = -rc if rc < 0 else (rc - 128 if 128 < rc <= 192 else None)
        result = RunResult(
            exit_code=rc if sig is None else None, signal=sig, timed_out=bool(reply["timed_out"]),
            oom_killed=cgroup.oom_killed(), pids_limit_hit=cgroup.pids_limit_hit(),
            wall_seconds=float(reply["wall"]), max_memory_mb=cgroup.max_memory_mb(),  # type: ignore[arg-type]
            stdout=_tail(job_root / "sandbox.stdout"), stderr=_tail(job_root / "sandbox.stderr"),
            output_truncated=_truncated(job_root, limits))
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

    def _docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.docker, *args], capture_output=True, text=True, env=self.env, timeout=timeout)

    def run(self, job_root: Path, script: Path, script_args: list[str]) -> RunResult:
        self.prepare(job_root)
        limits = self.limits
        # --init: a tiny PID 1 reaps, so the notebook is not PID 1 (which ignores even its own SIGKILL)
        argv = ["run", "-d", "--init", "--network", "none", "--memory", f"{limits.memory_mb}m",
                "--memory-swap", f"{limits.memory_mb}m", "--pids-limit", str(limits.pids),
                "--cpus", str(limits.cpus), "--user", f"{NOBODY}:{NOBODY}", "--read-only",
                "--tmpfs", "/tmp:rw,size=512m,mode=1777", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--ulimit", "core=0",
                "--ulimit", f"fsize={limits.output_mb * 2**20}", "--ulimit", f"cpu={limits.wall_seconds}",
                "--hostname", "sandbox", "-w", f"{INSIDE_ROOT}/work"]
        for root in self._python_roots():
            argv += ["-v", f"{root}:{root}:ro"]
        argv += ["-v", f"{job_root / 'in'}:{INSIDE_ROOT}/in:ro", "-v", f"{job_root / 'work'}:{INSIDE_ROOT}/work",
                 "-v", f"{job_root / 'out'}:{INSIDE_ROOT}/out"]
        for key, value in self._env(job_root).items():
            argv += ["-e", f"{key}={value}"]
        inside = [a.replace(str(job_root), INSIDE_ROOT) for a in (str(script), *script_args)]
        start = time.monotonic()
        created = self._docker(*argv, self.IMAGE, self.python, *inside)
        if created.returncode != 0:
            raise SandboxError(f"docker run failed: {created.stderr.strip()[:500]}")
        cid = created.stdout.strip()
        timed_out = False
        try:
            waited = self._docker("wait", cid, timeout=limits.wall_seconds)
            rc = int(waited.stdout.strip() or 1)
        except subprocess.TimeoutExpired:  # `timeout docker run` would only kill the client: kill the container
            timed_out = True
            self._docker("kill", cid)
            rc = 137
        wall = time.monotonic() - start
        state = self._docker("inspect", "-f", "{{.State.OOMKilled}}", cid).stdout.strip()
        pids_hit, peak = self._cgroup_facts(cid)
        logs = self._docker("logs", cid)
        self._docker("rm", "-f", cid)
        sig = rc - 128 if 128 < rc <= 192 else None
        return RunResult(exit_code=rc if sig is None else None, signal=sig, timed_out=timed_out,
                         oom_killed=state == "true", pids_limit_hit=pids_hit, wall_seconds=round(wall, 3),
                         max_memory_mb=peak, stdout=logs.stdout[-8000:], stderr=logs.stderr[-8000:],
                         output_truncated=len(logs.stdout) + len(logs.stderr) >= limits.output_mb * 2**20)

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


def make_sandbox(backend: str, limits: Limits) -> Sandbox:
    """The sandbox for `backend` ('bwrap', 'none'); 'docker' is not implemented yet and says so."""
    if backend == "bwrap":
        return BwrapSandbox(limits)
    if backend == "forkserver":
        return ForkServerSandbox(limits)
    if backend == "docker":
        return DockerSandbox(limits)
    if backend == "none":
        logger.warning("sandbox backend 'none': student code runs WITHOUT isolation (trusted code only)")
        return LocalSandbox(limits)
    raise SandboxUnavailable(f"unknown sandbox backend {backend!r}; choose one of bwrap, forkserver, docker, none")
