"""A fork server: import numpy, torch, Lightning and IPython once, then fork one isolated child per notebook.

Run as root by the grader (`python -m aiml_course.grading.forkserver`), it reads one JSON request per line on
stdin and answers one JSON line on stdout. For each request it forks; the child builds the same isolation as the
bwrap backend with the kernel's own calls — new mount, PID, network, IPC and UTS namespaces, a fresh tmpfs root
holding read-only binds of /usr and the Python environment plus the job folders, `pivot_root`, the job's cgroup,
rlimits, every capability dropped, uid/gid 65534, no_new_privs — and then runs the notebook runner in-process,
where the heavy imports are already done. The server itself never runs student code and never runs a parallel
torch operation (a child forked after one can hang in OpenMP).

Single-threaded on purpose: forking a multi-threaded process can leave locks held in the child.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import socket
import sys
import time
from typing import Any

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
NOBODY = 65534
PRELOAD = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "IPython.core.interactiveshell", "torch",
           "lightning", "ipywidgets", "sklearn.datasets")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {source} on {target}")


def _bind(source: str, target: str, *, writable: bool = False) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def _build_root(root: str, req: dict[str, Any]) -> None:
    """Make `root` a tmpfs holding only what the sandbox may see, then pivot into it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    os.makedirs(f"{root}/tmp")  # first: a Python environment living under /tmp is bound on top of it
    _mount("tmpfs", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m")
    for path in ["/usr", *req["ro_paths"]]:
        _bind(path, root + path)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")):
        os.symlink(target, f"{root}/{link}")
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/ssl", "/etc/alternatives"):
        if os.path.exists(etc):
            _bind(os.path.realpath(etc) if not os.path.isdir(etc) else etc, root + etc)
    job = req["job_root"]
    _bind(f"{job}/in", f"{root}/job/in")
    _bind(f"{job}/work", f"{root}/job/work", writable=True)
    _bind(f"{job}/out", f"{root}/job/out", writable=True)
    os.makedirs(f"{root}/dev")
    for dev in ("null", "zero", "random", "urandom"):
        _bind(f"/dev/{dev}", f"{root}/dev/{dev}", writable=True)
    os.makedirs(f"{root}/proc")
    os.makedirs(f"{root}/.old")
    import platform

    _check(_libc.syscall(SYS_PIVOT_ROOT[platform.machine()], root.encode(), f"{root}/.old".encode()), "pivot_root")
    os.chdir("/")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_privileges() -> None:
    for cap in range(64):  # empty the bounding set while we still may (needs CAP_SETPCAP)
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past last cap
            break
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)  # all uids non-zero: the kernel clears every capability
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _child(req: dict[str, Any]) -> int:
    """Runs in the forked child (root): isolate, drop privileges, run the notebook. Returns an exit status."""
    os.setsid()
    for procs in req["cgroup_procs"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    out = os.open(f"{req['job_root']}/sandbox.stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(f"{req['job_root']}/sandbox.stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open("/dev/null", os.O_RDONLY)
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET), "unshare")
    pid = os.fork()  # the new PID namespace starts with this child: it is PID 1 there
    if pid:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    socket.sethostname("sandbox")
    _build_root(req["root"], req)
    limits = req["limits"]
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _drop_privileges()
    worker = os.fork()  # like bwrap: PID 1 only reaps; the notebook runs as PID 2, so it can signal itself
    if worker:
        while True:
            try:
                done, status = os.waitpid(-1, 0)
            except ChildProcessError:
                os._exit(1)
            if done == worker:
                os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status)
                         else 128 + os.WTERMSIG(status))
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.closerange(3, 65536)
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir("/job/work")
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    try:
        if req.get("script"):  # any other program, e.g. the sandbox's own tests
            import runpy

            sys.argv = [req["script"], *req.get("args", [])]
            runpy.run_path(req["script"], run_name="__main__")
            code = 0
        else:
            from aiml_course.grading import runner

            code = runner.main("/job/in/job.json")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve_one(req: dict[str, Any]) -> dict[str, Any]:
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            code = _child(req)
        except BaseException as exc:  # isolation failed: say so, never run student code half-isolated
            try:
                os.write(2, f"fork server: sandbox setup failed: {exc}\n".encode())
            finally:
                os._exit(125)
        os._exit(code)
    deadline = start + req["limits"]["wall_seconds"]
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            timed_out = True
            os.killpg(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    return {"exit": code, "timed_out": timed_out, "wall": round(time.monotonic() - start, 3)}


def main() -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import importlib

    loaded = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ImportError:
            pass
    print(json.dumps({"ready": True, "preloaded": loaded}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = _serve_one(json.loads(line))
        except Exception as exc:  # a bad request must not take the server down
            reply = {"exit": 125, "timed_out": False, "wall": 0.0, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
