"""Jobs in a worker process: the training process of the app.

A :class:`WorkerProcess` is one child process (``multiprocessing``, spawn context) that
runs jobs one at a time and is reused between them. A job crosses the process boundary
as a :class:`JobCall`: a module-level job function (pickled by reference) with its
request; the worker calls ``function(*args, cancel=flag, **kwargs)``, drains the
generator and sends back each :class:`~core.jobs.base.Progress` (at most every 50 ms,
the newest; the last one always before the end) and then the result or the error.

The protocol is ``multiprocessing``'s own ``Pipe`` of pickled tuples:

* parent -> worker: ``("run", JobCall)`` or ``("stop", None)``;
* worker -> parent: ``("progress", Progress)``, ``("result", value)`` or ``("error", exc)``.

The worker runs at a lower OS priority with fewer torch threads than cores, so that the
window keeps a core (:func:`worker_threads`). It ends with its parent however the parent
ends (:func:`exit_with_parent`, also used by the simulator's and the importer's pools),
so no worker outlives the app. A worker that dies mid-job (a signal, out of memory, a
native crash) is seen through its process sentinel: :meth:`WorkerProcess.died` says how,
in words.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.jobs.base import thin

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.05
NICE = 10  # the worker's niceness: below the window, above nothing else


@dataclass(frozen=True)
class JobCall:
    """A job to run in the worker: ``function(*args, cancel=flag, **kwargs)``, where
    ``function`` is a module-level job generator function (picklable by reference)."""

    function: Callable[..., Any]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def start(self, cancel: Any) -> Any:
        return self.function(*self.args, cancel=cancel, **self.kwargs)


class WorkerError(Exception):
    """An error raised in the worker that could not be sent back as itself (it did not
    pickle); ``kind`` is its type name and ``details`` its traceback."""

    def __init__(self, kind: str, message: str, details: str = "") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.details = details


class WorkerDied(Exception):
    """The worker process ended in the middle of a job."""


def worker_threads(cores: int | None = None) -> int:
    """Torch threads for the worker: every core but one (the window's), at least one."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, cores - 1)


def exit_with_parent() -> None:
    """Ends this process as soon as its parent process ends (a daemon thread waits on the
    parent's sentinel); for worker and pool processes, so that none outlives the app even
    when the app is killed. Does nothing in a process without a multiprocessing parent."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)  # the parent is gone: nobody waits for what this process would do

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def lower_priority(nice: int = NICE) -> None:
    """Runs this process at a lower OS priority (best effort)."""
    try:
        os.nice(nice)
    except (AttributeError, OSError):  # Windows has no nice; a refusal is harmless
        logger.debug("cannot lower the worker's priority", exc_info=True)


def _serve(connection: multiprocessing.connection.Connection, cancel: Any, threads: int,
           preload: bool = True) -> None:
    """The worker's main loop (in the child)."""
    exit_with_parent()
    lower_priority()
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the parent's to handle
    if preload:
        _preload(threads)
    while True:
        try:
            kind, call = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed its end
        if kind != "run":
            return
        try:
            if preload:
                _set_torch_threads(threads)
            _run(connection, call, cancel)
        except (BrokenPipeError, OSError):
            return


def _preload(threads: int) -> None:
    """Imports the training stack while the first job's request is on its way (seconds
    of imports that the window no longer pays for)."""
    try:
        import torch

        _set_torch_threads(threads)
        import core.training  # noqa: F401

        torch.optim.Adam(torch.nn.Linear(1, 1).parameters())  # its first use imports torch._dynamo
    except Exception:  # noqa: BLE001 - the job itself reports a broken install
        logger.exception("preloading the training stack failed")


def _set_torch_threads(threads: int) -> None:
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _run(connection: multiprocessing.connection.Connection, call: JobCall, cancel: Any) -> None:
    pending: list[Any] = []
    last_sent = 0.0
    try:
        job = call.start(cancel)
        while True:
            try:
                record = next(job)
            except StopIteration as stop:
                result = stop.value
                break
            send_now, kept = thin(pending[0] if pending else None, record)  # stored predictions survive
            for early in send_now:
                connection.send(("progress", early))
            pending = [kept]
            now = time.monotonic()
            if now - last_sent >= PROGRESS_INTERVAL_S:
                connection.send(("progress", kept))
                pending, last_sent = [], now
    except BaseException as exc:  # noqa: BLE001 - every error goes back to the parent
        logger.debug("job failed in the worker", exc_info=True)
        if pending:
            connection.send(("progress", pending[0]))
        connection.send(("error", _picklable(exc)))
        return
    if pending:
        connection.send(("progress", pending[0]))
    connection.send(("result", result))


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure to round-trip
        return WorkerError(type(exc).__name__, str(exc), "".join(traceback.format_exception(exc)))


_LIVE: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Ends every worker before multiprocessing joins its children at exit (registered
    after multiprocessing's own handler, so it runs first)."""
    for worker in list(_LIVE):
        worker.terminate(timeout=1.0)
        worker.close(timeout=1.0)


class WorkerProcess:
    """One worker process, started on the first job and reused for the next ones."""

    def __init__(self, *, threads: int | None = None, preload: bool = True) -> None:
        """``preload``: import the training stack (torch) as the worker starts; a worker for
        jobs without torch (the map's) starts faster and smaller without."""
        self._context = multiprocessing.get_context("spawn")
        self._threads = threads if threads is not None else worker_threads()
        self._preload = preload
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: multiprocessing.connection.Connection | None = None
        self.cancel = self._context.Event()

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def submit(self, call: JobCall) -> None:
        """Sends a job to the worker, starting the worker first if it is not running."""
        if not self.alive():
            self._start()
        self.cancel.clear()
        assert self._connection is not None
        self._connection.send(("run", call))

    def _start(self) -> None:
        self.close()
        parent_end, child_end = self._context.Pipe(duplex=True)
        # not a daemon: a job may start a process pool of its own (the pixel cache); it
        # still ends with the app (exit_with_parent, and _close_all at exit)
        process = self._context.Process(target=_serve, args=(child_end, self.cancel, self._threads, self._preload),
                                        name="labelapp-worker")
        process.start()
        child_end.close()
        self._process, self._connection = process, parent_end
        _LIVE.add(self)

    def receive(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """The next message of the running job, or None when none came within ``timeout``.

        Raises:
            WorkerDied: the worker ended (its message says how).
        """
        if self._process is None or self._connection is None:
            raise WorkerDied("the worker is not running")
        ready = multiprocessing.connection.wait([self._connection, self._process.sentinel], timeout)
        if self._connection in ready:
            try:
                return self._connection.recv()
            except (EOFError, OSError):
                pass  # the worker ended while sending: its sentinel tells how
        elif not ready:
            return None
        self._process.join(timeout=5)
        raise WorkerDied(self.died())

    def died(self) -> str:
        """How the worker ended, in words."""
        code = None if self._process is None else self._process.exitcode
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == getattr(signal, "SIGKILL", None):
                return f"the worker was killed ({name}), probably out of memory"
            return f"the worker was killed ({name})"
        return f"the worker ended unexpectedly (exit code {code})"

    def terminate(self, timeout: float = 2.0) -> None:
        """Stops the worker now (SIGTERM, then SIGKILL after ``timeout``)."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Asks an idle worker to stop, then makes sure it has; forgets it."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            try:
                connection.send(("stop", None))
            except (BrokenPipeError, OSError):
                pass
            connection.close()
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(timeout)
