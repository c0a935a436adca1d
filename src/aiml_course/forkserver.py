"""A warm fork server: import numpy, torch, Lightning and IPython once, then fork one isolated child per job.

Started as root by `aiml_course.sandbox.ForkServerSandbox` with exactly the environment a sandboxed program gets
(so `/proc/self/environ` of a child shows nothing of the grader's) and a bare command line
(`python -m aiml_course.forkserver`, no host paths), it listens on a unix socket in a root-only folder and serves
every grading process of the machine — `course grade`, `validate`, `build`, `demo`, the hub's collect — until it
has had no connection for `idle_seconds`. Configuration arrives as one JSON line on stdin.

Each connection (one grading thread) is served by a forked handler; each request, one JSON line, is answered with
one JSON line. A request with `"stdin": true` was preceded by a file descriptor (SCM_RIGHTS, sent with a bare
newline): the script's stdin, e.g. the hidden probes in a memory-only file. Only the descriptor passes through
the server, never its contents, so nothing forked from the server holds them in memory. For a request the handler forks a child that builds the bwrap backend's isolation with the
kernel's own calls — new mount, PID, network, IPC and UTS namespaces, a fresh tmpfs root holding read-only binds of
/usr and the Python environment plus the job folders, `pivot_root`, the job's cgroup, rlimits, every capability
dropped, uid/gid 65534, no_new_privs — and then runs the requested script in-process, where the heavy imports are
already done. A handler whose client goes away (a killed grader) kills the running job and exits.

The server never runs student code, never runs a parallel torch operation (a child forked after one can hang in
OpenMP) and is single-threaded on purpose (forking a multi-threaded process can leave locks held in the child).
This module knows nothing of grading: it runs whatever script the sandbox names.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import socket
import sys
import time
from pathlib import Path
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
           "lightning", "ipywidgets", "sklearn.datasets", "aiml_notebooks")
SETUP_FAILED = 125

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {source} on {target}")


def _bind(source: str, target: str, *, writable: bool = False, device: bool = False) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV) | (0 if writable else MS_RDONLY)
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
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/ssl", "/etc/alternatives",
                "/etc/mime.types", "/etc/matplotlibrc"):
        if os.path.exists(etc):
            _bind(os.path.realpath(etc) if not os.path.isdir(etc) else etc, root + etc)
    job = req["job_root"]
    _bind(f"{job}/in", f"{root}/job/in")
    _bind(f"{job}/work", f"{root}/job/work", writable=True)
    _bind(f"{job}/out", f"{root}/job/out", writable=True)
    os.makedirs(f"{root}/dev")
    for dev in ("null", "zero", "random", "urandom"):
        _bind(f"/dev/{dev}", f"{root}/dev/{dev}", writable=True, device=True)  # usable, as in bwrap's /dev
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


def _child(req: dict[str, Any], stdin: int | None = None) -> int:
    """Runs in the forked child (root): isolate, drop privileges, run the script (with `stdin` as its fd 0, else
    /dev/null). Returns an exit status."""
    os.setsid()
    for procs in req["cgroup_procs"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    out = os.open(f"{req['job_root']}/sandbox.stdout", flags, 0o600)
    err = os.open(f"{req['job_root']}/sandbox.stderr", flags, 0o600)
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
    worker = os.fork()  # like bwrap: PID 1 only reaps; the program runs as PID 2, so it can signal itself
    if worker:
        os.closerange(3, 65536)  # PID 1 keeps no way to the job's stdin (or anything else of the server's)
        while True:
            try:
                done, status = os.waitpid(-1, 0)
            except ChildProcessError:
                os._exit(1)
            if done == worker:
                os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status)
                         else 128 + os.WTERMSIG(status))
    os.dup2(null if stdin is None else stdin, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.closerange(3, 65536)
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir("/job/work")
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    try:
        import runpy

        sys.argv = [req["script"], *req.get("args", [])]
        runpy.run_path(req["script"], run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _client_gone(conn: socket.socket) -> bool:
    """Has the grader at the other end closed its connection (it exited or was killed)?"""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _kill_job(pid: int, cgroup_procs: list[str]) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for procs in cgroup_procs:  # anything that left the process group is still in the job's cgroup
        try:
            for line in Path(procs).read_text().split():
                try:
                    os.kill(int(line), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except OSError:
            pass


def serve_one(req: dict[str, Any], conn: socket.socket | None = None,
              stdin: int | None = None) -> dict[str, Any] | None:
    """Run one job to its end or its wall-clock limit; None when the client went away (the job was killed)."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            code = _child(req, stdin)
        except BaseException as exc:  # isolation failed: say so, never run student code half-isolated
            try:
                os.write(2, f"fork server: sandbox setup failed: {exc}\n".encode())
            finally:
                os._exit(SETUP_FAILED)
        os._exit(code)
    deadline = start + req["limits"]["wall_seconds"]
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if conn is not None:
            readable, _, _ = select.select([conn], [], [], 0.005)
            if readable and _client_gone(conn):
                _kill_job(pid, req.get("cgroup_procs", []))
                os.waitpid(pid, 0)
                return None
        else:
            time.sleep(0.005)
        if time.monotonic() > deadline:
            timed_out = True
            _kill_job(pid, req.get("cgroup_procs", []))
            _, status, usage = os.wait4(pid, 0)
            break
    code = os.waitstatus_to_exitcode(status)
    # CPU seconds of the job and every process of it that was waited for (the runner and the notebook)
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    return {"exit": code, "timed_out": timed_out, "wall": round(time.monotonic() - start, 3), "cpu": cpu}


def _handle(conn: socket.socket) -> None:
    """Serve one grading thread's connection: one JSON request line in, one JSON reply line out (a request
    that asks for stdin takes the oldest descriptor received and not yet used)."""
    buffer = b""
    fds: list[int] = []
    while True:
        try:
            data, received, _flags, _addr = socket.recv_fds(conn, 1 << 16, 4)
        except OSError:
            return
        fds.extend(received)
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if not line.strip():
                continue
            stdin = None
            try:
                req = json.loads(line)
                if isinstance(req, dict) and req.get("stdin"):
                    if not fds:
                        raise ValueError("the request's stdin descriptor did not arrive")
                    stdin = fds.pop(0)
                reply = serve_one(req, conn, stdin)
            except Exception as exc:  # a bad request must not take the handler down
                reply = {"exit": SETUP_FAILED, "timed_out": False, "wall": 0.0,
                         "error": f"{type(exc).__name__}: {exc}"}
            finally:
                if stdin is not None:
                    os.close(stdin)
            if reply is None:
                return
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                return


def _reap(handlers: set[int]) -> None:
    while handlers:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            handlers.clear()
            return
        if pid == 0:
            return
        handlers.discard(pid)


def _accept(listener: socket.socket, handlers: set[int]) -> None:
    conn, _ = listener.accept()
    pid = os.fork()
    if pid == 0:
        listener.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            _handle(conn)
        finally:
            os._exit(0)
    conn.close()
    handlers.add(pid)


def serve(listener: socket.socket, path: str, inode: int, idle_seconds: float) -> None:
    """Accept connections until none has been open for `idle_seconds`; then stop listening and exit."""
    handlers: set[int] = set()
    last_active = time.monotonic()
    while True:
        _reap(handlers)
        now = time.monotonic()
        if handlers:
            last_active = now
        elif now - last_active > idle_seconds:
            break
        readable, _, _ = select.select([listener], [], [], 1.0)
        if readable:
            _accept(listener, handlers)
            last_active = time.monotonic()
    try:  # no new client can reach us once the name is gone; serve any that connected just before
        if os.stat(path).st_ino == inode:  # still our name, not a newer server's
            os.unlink(path)
    except OSError:
        pass
    listener.setblocking(False)
    while True:
        try:
            _accept(listener, handlers)
        except (BlockingIOError, OSError):
            break
    listener.close()
    while handlers:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        handlers.discard(pid)


def _preload(private_dir: str) -> list[str]:
    """Import the heavy libraries once. Their caches go to the server's private folder, not the shared /tmp."""
    for key in ("MPLCONFIGDIR", "IPYTHONDIR"):  # os.environ only: the exec-time block children show is untouched
        os.environ[key] = os.path.join(private_dir, key.lower())
    import importlib

    loaded = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ImportError:
            pass
    return loaded


def main() -> int:
    config = json.loads(sys.stdin.readline())
    path, idle = config["socket"], float(config["idle_seconds"])
    os.chdir("/")
    loaded = _preload(config["private_dir"])
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{path}.{os.getpid()}"
    old_umask = os.umask(0o077)
    try:
        listener.bind(staging)
    finally:
        os.umask(old_umask)
    os.chmod(staging, 0o600)
    listener.listen(64)
    os.replace(staging, path)
    inode = os.stat(path).st_ino
    server = os.fork()
    if server:  # the parent tells the starter we are ready and leaves; the server lives on, detached
        print(json.dumps({"ready": True, "pid": server, "preloaded": loaded}), flush=True)
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(listener, path, inode, idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
