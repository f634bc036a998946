"""How `make test` shares the suite between pytest-xdist's workers (`-n 2 --dist loadscope`).

`loadscope` hands each worker whole modules, so a module's servers start once, on one worker. Left
to itself it queues the modules with the most tests first, which puts the many short unit-test
modules ahead and can leave a few long ones (the soak, the agent turns, the Redis resumes, each
a minute or more of server starts and real-time streams) to one worker at the end while the other
sits idle. Here the modules that start real servers go first and the quick in-process ones fill the
gaps at the end, so both workers finish close together. Without xdist (`-n 0`, or not installed)
this does nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

# First to last; a module in none of these folders (docs/, the README) goes after all of them.
# Within one folder xdist's own order stands (most tests first).
_FIRST = (
    "tests/package/",
    "tests/e2e/",
    "tests/quickstarts/",
    "tests/redis/",
    "tests/integrations/",
    "tests/emulator/",
    "tests/core/",
)


def _rank(scope: str) -> int:
    return next((i for i, folder in enumerate(_FIRST) if scope.startswith(folder)), len(_FIRST))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ServersFirst(LoadScopeScheduling):
        _ordered = False

        def _assign_work_unit(self, node: Any) -> None:
            # The queue is complete by the first assignment; a stable sort keeps xdist's order
            # within a folder.
            if not self._ordered:
                self._ordered = True
                queue = sorted(self.workqueue.items(), key=lambda unit: _rank(unit[0]))
                self.workqueue.clear()
                self.workqueue.update(queue)
            super()._assign_work_unit(node)

    return ServersFirst(config, log)
