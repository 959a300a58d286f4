"""Runs moto in server mode on 127.0.0.1: the local stand-in for AWS."""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

LOCAL_KEY = "testing"  # moto accepts any keys; these name the local cloud's


@dataclass
class MotoServer:
    """A moto server thread bound to loopback only."""

    port: int = 0
    _server: ThreadedMotoServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "moto server not started"
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto binds 0.0.0.0 unless told otherwise: never expose the local cloud
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self.url

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
