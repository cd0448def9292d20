"""The head-end process: the database, the cabinets' TCP link service and the REST API with the
dashboard, all in one asyncio event loop (uvicorn serves the API in that loop).

    hs = Headend("sqlite:///headend.db", cabinets={"block-A": 5020})
    hs.start()              # in a background thread; hs.api_port, hs.link_ports["block-A"]
    ...
    hs.stop()

`metersim headend serve` runs the same in the foreground."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import uvicorn

from . import domain
from .api import create_app
from .db import DEFAULT_URL, open_database
from .link import LinkService
from .._errors import SetupError

log = logging.getLogger("metersim._headend")


class Headend:
    def __init__(self, db_url: str = DEFAULT_URL, cabinets: dict[str, int] | None = None,
                 host: str = "127.0.0.1", api_port: int = 8080, clock=domain.now_utc,
                 report_period_s: int | None = None):
        self.engine, self.sessions = open_database(db_url)
        self.cabinets = dict(cabinets if cabinets is not None else {"cabinet-1": 5020})
        self.host = host
        self.clock = clock
        self.links = LinkService(self.sessions, clock, host, report_period_s)
        self.app = create_app(self.sessions, self.links, clock)
        self.api_port = api_port
        self.link_ports: dict[str, int] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    async def serve(self) -> None:
        """Listen for every cabinet and serve the API until stopped."""
        self._loop = asyncio.get_running_loop()
        for name, port in self.cabinets.items():
            self.link_ports[name] = await self.links.listen(name, port)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # inherited by accepted connections (Linux): without it a kept-alive connection waits
        # for the peer's delayed ACK (40 ms) between a response's header and body writes
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.host, self.api_port))
        except OSError as e:
            await self.links.close()
            raise SetupError(f"the API cannot listen on {self.host}:{self.api_port}: {e}") from None
        self.api_port = sock.getsockname()[1]
        # listening before `start` returns: a client that connects at once waits in the
        # backlog until uvicorn accepts, instead of being refused (uvicorn listens only once
        # its server has started)
        sock.listen(128)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._ready.set()
        try:
            await self._server.serve(sockets=[sock])
        finally:
            await self.links.close()
            sock.close()

    def start(self, timeout_s: float = 20.0) -> "Headend":
        """Serve in a background thread; returns once the ports are open."""
        def run():
            try:
                asyncio.run(self.serve())
            except BaseException as e:      # reported to the starting thread
                self._error = e
                self._ready.set()

        self._thread = threading.Thread(target=run, name="headend", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise SetupError(f"the head end did not start within {timeout_s} s")
        if self._error is not None:
            raise SetupError(f"the head end did not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(20)
            self._thread = None
        self.engine.dispose()

    def url(self) -> str:
        return f"http://{self.host}:{self.api_port}"
