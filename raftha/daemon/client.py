"""ControlClient: the caller's side of the Control API (see `raftha.daemon.api`).

    ControlClient(socket_path, timeout_ms).call(op, **args) -> result, or raises ApiError

One connection is opened lazily and reused for every call (the benchmark measures commit
latency over it); a broken connection is reopened once per call. Every call is bounded
by `timeout_ms`.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

DEFAULT_SOCKET_ENV = "RAFTHA_SOCKET"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class ApiError(Exception):
    """A failed call; the message is a one-line reason (from the daemon or the transport)."""


class ControlClient:
    def __init__(self, socket_path: str | os.PathLike[str], timeout_ms: int = 10_000) -> None:
        self.socket_path = os.fspath(socket_path)
        self.timeout_ms = timeout_ms
        self.connection: socket.socket | None = None
        self.reader = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None
                self.reader = None

    def connect(self) -> None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(self.timeout_ms / 1000)
        try:
            connection.connect(self.socket_path)
        except FileNotFoundError:
            connection.close()
            raise ApiError(f"no daemon socket at {self.socket_path} (is the node running?)"
                           ) from None
        except ConnectionRefusedError:
            connection.close()
            raise ApiError(f"daemon at {self.socket_path} refused the connection "
                           "(is the node running?)") from None
        except PermissionError:
            connection.close()
            raise ApiError(f"permission denied on {self.socket_path}") from None
        except OSError as error:
            connection.close()
            raise ApiError(f"cannot connect to {self.socket_path}: {error.strerror or error}"
                           ) from None
        self.connection = connection
        self.reader = connection.makefile("rb")

    def call(self, op: str, **args: Any) -> Any:
        request = json.dumps({"op": op, "args": args}, separators=(",", ":")).encode() + b"\n"
        for attempt in (1, 2):
            fresh = self.connection is None
            if fresh:
                self.connect()
            try:
                try:
                    self.connection.sendall(request)
                except (BrokenPipeError, ConnectionResetError):
                    # The daemon may have answered and closed before reading (it refuses
                    # connections beyond its limit that way): its answer is still here.
                    line = self.pending_line()
                    if line:
                        return self.decode(line)
                    raise
                line = self.reader.readline(MAX_RESPONSE_BYTES)
            except TimeoutError:
                self.close()
                raise ApiError(f"no answer from {self.socket_path} within "
                               f"{self.timeout_ms} ms") from None
            except OSError as error:
                self.close()
                if fresh or attempt == 2:
                    raise ApiError(f"connection to {self.socket_path} failed: "
                                   f"{error.strerror or error}") from None
                continue
            if not line:
                self.close()
                if fresh or attempt == 2:
                    raise ApiError(f"daemon at {self.socket_path} closed the connection")
                continue
            return self.decode(line)
        raise ApiError("unreachable")

    def pending_line(self) -> bytes:
        try:
            return self.reader.readline(MAX_RESPONSE_BYTES)
        except OSError:
            return b""

    def decode(self, line: bytes) -> Any:
        try:
            response = json.loads(line)
        except ValueError:
            self.close()
            raise ApiError("daemon sent an answer that is not JSON") from None
        if not isinstance(response, dict) or "ok" not in response:
            raise ApiError("daemon sent an answer without 'ok'")
        if not response["ok"]:
            raise ApiError(str(response.get("error", "unknown error")))
        return response.get("result")
