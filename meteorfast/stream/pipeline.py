"""Sources -> per-source reader threads -> a round-robin batcher.

Each source gets one reader thread that decodes, stacks (in ``stack`` mode) and preprocesses to the model input,
then puts the result in a bounded queue. A full queue blocks a file's reader (backpressure: a file never loses a
frame, and memory stays bounded) and makes a live source's reader drop its oldest item, counting every frame it
drops. The batcher, after DeepStream's nvstreammux, takes one item per source in turn (so no source starves) and
pushes a batch when it is full or when ``push_timeout_s`` has passed since its first item.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from meteorfast.errors import InputError
from meteorfast.results import Item
from meteorfast.stream.sources import Frame, Source


@dataclass
class SourceStats:
    """Counters of one source, updated by its reader thread: frames decoded, items queued, frames dropped (live
    sources only), frames or files skipped because they could not be decoded (``decode_errors``, with the last
    few messages in ``skipped``), reconnections of a live stream, the last frame index read, whether the run was
    stopped before the source ended, and the error that ended it, if any."""

    source: str
    live: bool
    frames: int = 0
    items: int = 0
    dropped_frames: int = 0
    dropped_items: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    last_index: int = -1
    skipped: list[str] = field(default_factory=list)
    done: bool = False
    stopped: bool = False
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None

    @property
    def status(self) -> str:
        """``failed`` (an error ended it), ``stopped`` (the run was stopped first) or ``complete``."""
        if self.error is not None:
            return "failed"
        return "stopped" if self.stopped else "complete"

    @property
    def fps(self) -> float:
        """Frames decoded per second of wall time so far."""
        span = (self.ended or time.perf_counter()) - self.started
        return self.frames / span if span > 0 else 0.0


Prepare = Callable[[Iterator[Frame]], Iterator[Item]]


class Reader:
    """Runs ``prepare(iter(source))`` on a thread of its own into a queue of at most ``depth`` items."""

    def __init__(self, source: Source, prepare: Prepare, depth: int, cond: threading.Condition) -> None:
        if depth < 1:
            raise InputError(f"stream: expected a queue depth >= 1, got {depth}")
        self.source = source
        self.depth = depth
        self.stats = SourceStats(source.id, source.live)
        self.exception: BaseException | None = None
        self._prepare = prepare
        self._queue: deque[Item] = deque()
        self._cond = cond
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"meteorfast-read-{source.id}", daemon=True)
        source.watch(self._on_report, self._stop)

    #: How many skip messages :class:`SourceStats` keeps (the counters count them all).
    KEEP_MESSAGES = 20

    def _on_report(self, kind: str, count: int, message: str) -> None:
        with self._cond:
            if kind == "skipped":
                self.stats.decode_errors += count
                if len(self.stats.skipped) < self.KEEP_MESSAGES:
                    self.stats.skipped.append(message)
            elif kind == "reconnected":
                self.stats.reconnects += 1

    def start(self) -> None:
        self._thread.start()

    def _frames(self) -> Iterator[Frame]:
        for frame in self.source:
            self.stats.frames += 1
            self.stats.last_index = frame.index
            yield frame
            if self._stop.is_set():
                return

    def _run(self) -> None:
        try:
            for item in self._prepare(self._frames()):
                if not self._put(item):
                    return
        except BaseException as err:  # handed to the consumer, which decides whether to re-raise it
            self.exception = err
            self.stats.error = str(err) or type(err).__name__
        finally:
            with self._cond:
                self.stats.stopped = self._stop.is_set() and self.exception is None
                self.stats.done = True
                self.stats.ended = time.perf_counter()
                self._cond.notify_all()

    def _put(self, item: Item) -> bool:
        with self._cond:
            while len(self._queue) >= self.depth and not self._stop.is_set():
                if self.source.live:
                    old = self._queue.popleft()
                    self.stats.dropped_items += 1
                    self.stats.dropped_frames += old.frames
                    break
                self._cond.wait(0.1)
            if self._stop.is_set():
                return False
            self._queue.append(item)
            self.stats.items += 1
            self._cond.notify_all()
            return True

    def take(self) -> Item | None:
        """The oldest queued item, or None. Call with the shared condition held."""
        if not self._queue:
            return None
        item = self._queue.popleft()
        self._cond.notify_all()
        return item

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def exhausted(self) -> bool:
        """Finished and drained."""
        return self.stats.done and not self._queue

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class Batcher:
    """Round-robin batches over ``readers``: up to ``batch_size`` model inputs (tiles count one each), pushed when
    full or ``push_timeout_s`` after the batch's first item arrived. Iterating ends when every reader is exhausted.

    With ``on_error="raise"``, a reader's exception is re-raised here (the other readers are stopped first);
    with ``"skip"`` that source just ends and its :class:`SourceStats` keep the message.
    """

    def __init__(
        self, readers: Sequence[Reader], cond: threading.Condition, batch_size: int, push_timeout_s: float = 0.05,
        on_error: str = "raise",
    ) -> None:  # fmt: skip
        if batch_size < 1:
            raise InputError(f"stream: expected batch_size >= 1, got {batch_size}")
        if push_timeout_s < 0:
            raise InputError(f"stream: expected push_timeout_s >= 0, got {push_timeout_s}")
        if on_error not in ("raise", "skip"):
            raise InputError(f"stream: expected on_error 'raise' or 'skip', got {on_error!r}")
        self.readers = list(readers)
        self.batch_size = batch_size
        self.push_timeout_s = push_timeout_s
        self.on_error = on_error
        self._cond = cond
        self._next = 0

    def _check_errors(self) -> None:
        if self.on_error != "raise":
            return
        for r in self.readers:
            if r.exception is not None and r.exhausted:
                err = r.exception
                r.exception = None
                for other in self.readers:
                    other.stop()
                raise err

    def __iter__(self) -> Iterator[list[Item]]:
        n = len(self.readers)
        while True:
            batch: list[Item] = []
            size = 0
            deadline: float | None = None
            with self._cond:
                while size < self.batch_size:
                    took = False
                    # One item per source per pass, starting after the source served first last time.
                    for k in range(n):
                        reader = self.readers[(self._next + k) % n]
                        if size >= self.batch_size:
                            break
                        item = reader.take()
                        if item is None:
                            continue
                        batch.append(item)
                        size += len(item.inputs)
                        took = True
                        if deadline is None:
                            deadline = time.perf_counter() + self.push_timeout_s
                    self._check_errors()
                    if all(r.exhausted for r in self.readers):
                        break
                    if took:
                        continue
                    remaining = None if deadline is None else deadline - time.perf_counter()
                    if remaining is not None and remaining <= 0:
                        break
                    self._cond.wait(0.1 if remaining is None else min(remaining, 0.1))
                self._next = (self._next + 1) % max(n, 1)
            if batch:
                yield batch
            elif all(r.exhausted for r in self.readers):
                self._check_errors()
                return
