"""LocalProcessSpawner with a cgroup per person: a runaway kernel (a memory bomb, a fork loop, a training run on
every core) is stopped inside that person's server and never starves the hub or the other students."""

from __future__ import annotations

from typing import Any

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Float, Integer

from aiml_course.config import Limits
from aiml_course.sandbox import Cgroup

PARENT = "aiml-hub"  # /sys/fs/cgroup/<controller>/aiml-hub/<user> (v1) or /sys/fs/cgroup/aiml-hub/<user> (v2)


class CourseSpawner(LocalProcessSpawner):
    """Each user's server (and so every kernel it starts) runs in the cgroup aiml-hub/<user>."""

    memory_mb = Integer(4096, help="Memory limit of one user's server and kernels, MiB.").tag(config=True)
    cpus = Float(2.0, help="CPU quota of one user's server and kernels, in cores.").tag(config=True)
    pids = Integer(1024, help="Processes and threads of one user's server and kernels.").tag(config=True)

    _cgroup: Cgroup | None = None

    async def start(self) -> Any:
        url = await super().start()
        limits = Limits(memory_mb=self.memory_mb, pids=self.pids, cpus=self.cpus)
        cgroup = Cgroup(self.user.name, limits, parent=PARENT)
        if cgroup.active and self.pid:
            cgroup.attach(self.pid)  # the server only: kernels start later, inside
            self._cgroup = cgroup
        else:
            self.log.warning("no cgroup for %s: server runs without memory/CPU limits", self.user.name)
        return url

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        if self._cgroup is not None:
            self._cgroup.kill_all()   # kernels a crashed server left behind
            self._cgroup.remove()
            self._cgroup = None
