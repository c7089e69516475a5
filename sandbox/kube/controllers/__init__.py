"""The in-process control plane: kube-controller-manager, kube-scheduler and every node's kubelet.

Each controller is a `sync()` that looks at the store and writes through the registry, like a real
controller reconciling from its informers. The manager runs them all in one pass, in a fixed order, on a
background thread whenever something changed (a write or the clock moving), and `settle()` runs passes
until one changes nothing, so tests can wait for the cluster to converge without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox.kube.clock import SandboxClock
from sandbox.kube.registry import Registry
from sandbox.kube.store import Store

log = logging.getLogger(__name__)


class VolumeProvisioner(Protocol):
    """The cloud side of the EBS CSI driver: makes and removes volumes (the sandbox's AWS, or a fake)."""

    def create_volume(self, zone: str, size_gib: int, claim: dict[str, Any]) -> str:
        """Make a volume of `size_gib` GiB in `zone` for `claim` (the PVC object); return its EBS volume id."""
        ...

    def delete_volume(self, volume_id: str) -> None:
        """Delete the volume (the PV's reclaim policy was Delete and its claim is gone)."""
        ...


@dataclass
class Context:
    """What every controller may use: the API (registry), a read view (store), time and the cluster's knobs."""

    registry: Registry
    clock: SandboxClock
    provisioner: VolumeProvisioner
    node_monitor_grace_period: float = 40.0
    kubelet_start_delay: float = 0.0
    alive: dict[str, bool] = field(default_factory=dict)  # node name -> its kubelet is running
    wake_at: float = float("inf")  # time.monotonic() of the earliest retry a controller asked for

    @property
    def store(self) -> Store:
        return self.registry.store

    def retry_in(self, seconds: float) -> None:
        """Ask for a pass after `seconds` of real time even if nothing changes (a backoff retry)."""
        self.wake_at = min(self.wake_at, time.monotonic() + seconds)


class Controller(Protocol):
    def sync(self) -> None: ...


class ControllerManager:
    def __init__(self, context: Context, controllers: Sequence[Controller], *, interval: float = 0.05) -> None:
        self.context = context
        self.controllers = tuple(controllers)
        self.interval = interval
        self._pass_lock = threading.Lock()
        self._stop = threading.Event()
        self.paused = False  # the API server is down: no controller (nor kubelet) can read or write
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="kube-controllers")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def run_pass(self) -> None:
        if self.paused:
            return
        with self._pass_lock:
            for controller in self.controllers:
                try:
                    controller.sync()
                except Exception:
                    log.exception(
                        "sandbox controller %s failed; it will retry on the next pass", type(controller).__name__
                    )

    def settle(self, timeout: float = 5.0) -> None:
        """Run passes until one writes nothing (or `timeout` seconds of real time have gone)."""
        deadline = time.monotonic() + timeout
        store = self.context.store
        while not self.paused:
            before = store.resource_version
            self.run_pass()
            if store.resource_version == before or time.monotonic() >= deadline:
                return

    def _loop(self) -> None:
        """A pass after any write, after the clock moved a second or more, or when a retry is due."""
        context, store, clock = self.context, self.context.store, self.context.clock
        version, moment = -1, clock.now()
        while not self._stop.wait(self.interval):
            due = time.monotonic() >= context.wake_at
            if store.resource_version == version and (clock.now() - moment).total_seconds() < 1.0 and not due:
                continue
            if due:
                context.wake_at = float("inf")
            version, moment = store.resource_version, clock.now()
            self.run_pass()
