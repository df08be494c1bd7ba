"""`apikey-bot playground` in this process, for the browser tests and the playground's server tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bot.playground.run import Playground


class RunningPlayground:
    """`apikey-bot playground` on a free port, in a thread with its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.pg: Playground | None = None
        self._thread = threading.Thread(target=self._run, name="playground", daemon=True)

    def start(self) -> RunningPlayground:
        self._thread.start()
        if not self.ready.wait(30):
            raise RuntimeError(f"the playground did not start: {self.failed!r}")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by start()
            self.failed = exc
            self.ready.set()

    async def _main(self) -> None:
        self.pg = Playground("127.0.0.1", 0)
        await self.pg.serve(lambda url: None, self.ready.set)

    @property
    def url(self) -> str:
        assert self.pg is not None
        return self.pg.url

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the playground's loop (where its state lives) and return the result."""
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        if self.pg is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.pg.stop)
        self._thread.join(15)
