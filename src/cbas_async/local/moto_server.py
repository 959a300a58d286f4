"""Runs moto in server mode on 127.0.0.1: the local stand-in for AWS."""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from cbas_async.local.ec2_faults import Ec2Faults
from cbas_async.local.faults import FaultGate
from cbas_async.local.moto_ec2 import MotoEc2View, add_missing_instance_types
from cbas_async.local.price_board import SpotPriceBoard
from cbas_async.local.price_history_api import PriceHistoryApi

LOCAL_KEY = "testing"  # moto accepts any keys; these name the local cloud's


class SerializedDynamo:
    """WSGI middleware: one DynamoDB request at a time.

    moto's DynamoDB is not thread-safe: a transaction that fails a condition restores a
    deep copy of every table it touched, undoing writes that other request threads made
    meanwhile (a lost update the chaos run found: a job's SUBMITTED -> PENDING vanished).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            return self._app(environ, start_response)
        with self._lock:
            return self._app(environ, start_response)


class _LocalMotoServer(ThreadedMotoServer):
    """moto's threaded server with DynamoDB requests serialized and the spot price history
    answered from `prices`, behind a fault gate."""

    def __init__(self, *, gate_keys: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate: FaultGate | None = None
        self.prices = SpotPriceBoard()
        self._gate_keys = gate_keys

    def _server_entry(self) -> None:
        moto = SerializedDynamo(DomainDispatcherApplication(create_backend_app))
        add_missing_instance_types()  # the priced traces' p3.2xlarge among them
        ec2 = Ec2Faults(view=MotoEc2View())
        app = PriceHistoryApi(moto, self.prices)
        self.gate = FaultGate(app, exempt_keys=self._gate_keys, ec2=ec2)
        self._server = make_server(
            self._ip_address, self._port, self.gate, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@dataclass
class MotoServer:
    """A moto server thread bound to loopback only."""

    port: int = 0
    exempt_keys: frozenset[str] = frozenset()  # never failed by `faults`
    _server: _LocalMotoServer | None = None

    @property
    def faults(self) -> FaultGate:
        """Makes S3 or DynamoDB calls fail, or EC2 launches (`.ec2`), for a while (see
        `local.faults`)."""
        gate = self._server.gate if self._server is not None else None
        assert gate is not None, "moto server not started"
        return gate

    @property
    def prices(self) -> SpotPriceBoard:
        """The spot price history the local EC2 answers with (`local.price_board`)."""
        assert self._server is not None, "moto server not started"
        return self._server.prices

    @property
    def url(self) -> str:
        assert self._server is not None, "moto server not started"
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto binds 0.0.0.0 unless told otherwise: never expose the local cloud
        self._server = _LocalMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False, gate_keys=self.exempt_keys
        )
        self._server.start()
        return self.url

    def reset(self) -> None:
        """Forget every resource; on a loaded machine this took more than ten seconds once."""
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=60):
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
