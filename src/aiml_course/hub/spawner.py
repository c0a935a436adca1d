"""LocalProcessSpawner, isolated: each person's server runs in a network namespace, a bubblewrap view of the
machine and a cgroup of its own (see aiml_course.hub.isolation for what is and is not in there).

A runaway kernel (a memory bomb, a fork loop, a training run on every core) is stopped inside that person's
cgroup; a student's terminal sees no repository, no grading job, no hub state, no other home and no other
process; and nobody's server binds a port on the host, so ports can be neither raced for nor squatted.
"""

from __future__ import annotations

import asyncio
import pwd
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Bool, Float, Integer, List, Unicode

from aiml_course.config import Limits
from aiml_course.errors import HubError
from aiml_course.hub import isolation
from aiml_course.sandbox import Cgroup

PARENT = "aiml-hub"  # /sys/fs/cgroup/<controller>/aiml-hub/<user> (v1) or /sys/fs/cgroup/aiml-hub/<user> (v2)


class CourseSpawner(LocalProcessSpawner):
    """Each user's server (and so every kernel and terminal it starts) in its own namespaces and cgroup."""

    memory_mb = Integer(4096, help="Memory limit of one user's server and kernels, MiB.").tag(config=True)
    cpus = Float(2.0, help="CPU quota of one user's server and kernels, in cores.").tag(config=True)
    pids = Integer(1024, help="Processes and threads of one user's server and kernels.").tag(config=True)
    isolate = Bool(True, help="Network namespace + bubblewrap view per server (off: plain LocalProcessSpawner, "
                              "for machines without bwrap; students then see the host).").tag(config=True)
    hub_port = Integer(0, help="The hub's public port: names its bridge (isolation.HubNetwork).").tag(config=True)
    read_only = List(Unicode(), help="Host paths every server sees read-only (the Python environment, the "
                                     "student library, the Jupyter settings).").tag(config=True)
    writable = List(Unicode(), help="Host paths every server sees read-write (nbgrader's exchange).").tag(config=True)
    profile_dir = Unicode(help="Folder bound over /etc/profile.d (isolation.write_profile_dir).").tag(config=True)
    staff_writable = List(Unicode(), help="Extra read-write paths of this server (staff: the course directory); "
                                          "set per spawn by the pre-spawn hook.")
    concurrent_starts = Integer(4, help="Servers starting at once (until they accept connections); the others "
                                        "wait their turn. A class logging in together then gets its Labs in turn "
                                        "instead of all of them sharing the CPUs until the last is ready."
                                ).tag(config=True)

    _slots: ClassVar[dict[str, int]] = {}   # user → address index, for the hub's lifetime (one event loop: no race)
    _gate: ClassVar[asyncio.Semaphore | None] = None
    _cgroup: Cgroup | None = None
    _base_cmd: list[str] | None = None

    @property
    def network(self) -> isolation.HubNetwork:
        return isolation.HubNetwork(self.hub_port)

    def _slot(self) -> int:
        name = self.user.name
        if name not in self._slots:
            taken = set(self._slots.values())
            self._slots[name] = next(i for i in range(len(taken) + 1) if i not in taken)
        return self._slots[name]

    def _view(self) -> isolation.View:
        pw = pwd.getpwnam(self.user.name)
        return isolation.View(home=Path(pw.pw_dir), uid=pw.pw_uid, gid=pw.pw_gid,
                              read_only=tuple(Path(p) for p in self.read_only),
                              writable=tuple(Path(p) for p in (*self.writable, *self.staff_writable)),
                              profile_dir=Path(self.profile_dir), hostname=f"jupyter-{self.user.name}"[:63])

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        cgroup = self._cgroup
        if self.isolate:
            # no setuid here: bubblewrap needs root to build the view; setpriv drops to the user inside it,
            # before anything of theirs runs
            def join_cgroup() -> None:
                if cgroup is not None:
                    cgroup.join()
            return join_cgroup
        drop = super().make_preexec_fn(name)

        def join_then_drop() -> None:
            if cgroup is not None:
                cgroup.join()
            drop()
        return join_then_drop

    async def start(self) -> Any:
        limits = Limits(memory_mb=self.memory_mb, pids=self.pids, cpus=self.cpus)
        cgroup = Cgroup(self.user.name, limits, parent=PARENT)
        if cgroup.active:
            cgroup.kill_all()   # anything a crashed earlier server left behind
            self._cgroup = cgroup
        else:
            self.log.warning("no cgroup for %s: server runs without memory/CPU limits", self.user.name)
        if self._base_cmd is None:
            self._base_cmd = list(self.cmd)
        if self.isolate:
            if not self.hub_port:
                raise HubError("CourseSpawner.hub_port is not set (hub_config/jupyterhub_config.py sets it)")
            # `ip` runs in a worker thread: a class logging in at once must not stall the hub's event loop
            self.ip = await asyncio.to_thread(isolation.create_netns, self.network, self.user.name, self._slot())
            self.port = isolation.SERVER_PORT
            self.cmd = [*isolation.nsenter_argv(self.network, self.user.name), *isolation.bwrap_argv(self._view()),
                        *self._base_cmd]
        if CourseSpawner._gate is None:
            CourseSpawner._gate = asyncio.Semaphore(max(1, self.concurrent_starts))
        async with CourseSpawner._gate:
            url = await super().start()
            await self._until_listening(self.http_timeout)
        return url

    async def _until_listening(self, timeout: float) -> None:
        """Wait until the new server accepts connections (or exits, or `timeout` passes: the hub then judges)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and self.proc is not None and self.proc.poll() is None:
            try:
                _reader, writer = await asyncio.wait_for(asyncio.open_connection(self.ip or "127.0.0.1", self.port),
                                                         timeout=2)
            except (TimeoutError, OSError):
                await asyncio.sleep(0.5)
                continue
            writer.close()
            return

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        if self._cgroup is not None:
            self._cgroup.kill_all()   # kernels and terminals, wherever they are in the namespace
            self._cgroup.remove()
            self._cgroup = None
        if self.isolate and self.hub_port:
            await asyncio.to_thread(isolation.delete_netns, self.network, self.user.name)
