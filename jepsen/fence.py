"""Emulated power fencing for netns nodes: a controller in the harness and a fence agent.

The product fences through standard fence agents (stdin `key=value` lines). `fence_jepsen`
(jepsen/fence_jepsen, running `jepsen.fence.agent_main`) is such an agent; it asks the
harness's `FenceController` over a Unix socket to power a node off or on:
    off     SIGKILL every process in the node's cgroup; success only once it is empty; the
            node stays down (restarts are refused) until "on"
    on      start the node again through the cluster adapter
    reboot  off, then on
    status  "off" when the node is powered off or its cgroup is empty, else "on"
Agent parameters: action (off|on|reboot|status|monitor|list|metadata), plug (node name),
socket (controller socket; default from env JEPSEN_FENCE_SOCKET), timeout_ms.
Exit status: 0 success (status: on), 2 status: off, 1 failure.

Every off/on/reboot the controller performs is appended to `fence.jsonl` in the run
directory as {"target", "action", "result": "ok"|"failed", "ts_ms"} (the harness's ground
truth, same fields as `raftha fence history`). Failure modes for the "fence" nemesis:
"ok", "fail" (answer failure, do nothing), "hang" (do nothing and never answer in time).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable

SOCKET_ENVIRONMENT_VARIABLE = "JEPSEN_FENCE_SOCKET"
REQUEST_LIMIT_BYTES = 4096
DEFAULT_TIMEOUT_MS = 20_000
HANG_S = 3600.0
MODES = ("ok", "fail", "hang")
EXIT_SUCCESS, EXIT_FAILURE, EXIT_OFF = 0, 1, 2

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_jepsen" shortdesc="Power fencing of fault-injection hosts">
<longdesc>Powers network-namespace nodes of a fault-injection run off and on through the
harness controller.</longdesc>
<parameters>
<parameter name="action" unique="0" required="1"><content type="string" default="reboot"/>
<shortdesc lang="en">Fencing action</shortdesc></parameter>
<parameter name="plug" unique="0" required="0"><content type="string"/>
<shortdesc lang="en">Node to fence</shortdesc></parameter>
<parameter name="socket" unique="0" required="0"><content type="string"/>
<shortdesc lang="en">Controller socket</shortdesc></parameter>
</parameters>
<actions><action name="on"/><action name="off"/><action name="reboot"/><action name="status"/>
<action name="monitor"/><action name="list"/><action name="metadata"/></actions>
</resource-agent>
"""


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class FenceController:
    """Serves power requests for the nodes of one run."""

    def __init__(self, socket_path: pathlib.Path, log_path: pathlib.Path, nodes: list[str],
                 power_off: Callable[[str], bool], power_on: Callable[[str], None],
                 is_running: Callable[[str], bool]) -> None:
        self.socket_path = pathlib.Path(socket_path)
        self.log_path = pathlib.Path(log_path)
        self.nodes = list(nodes)
        self._power_off = power_off
        self._power_on = power_on
        self._is_running = is_running
        self._lock = threading.Lock()
        self.powered_off: set[str] = set()
        self.mode = "ok"
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ actions

    def handle(self, request: dict) -> dict:
        action = str(request.get("action", ""))
        node = str(request.get("plug", ""))
        if action == "list":
            return {"ok": True, "nodes": self.nodes}
        if action == "monitor":
            return {"ok": True}
        if node not in self.nodes:
            return {"ok": False, "error": f"unknown plug {node!r}; nodes: {self.nodes}"}
        if action == "status":
            off = node in self.powered_off or not self._is_running(node)
            return {"ok": True, "state": "off" if off else "on"}
        if action not in ("off", "on", "reboot"):
            return {"ok": False, "error": f"unknown action {action!r}"}
        if self.mode == "hang":
            time.sleep(HANG_S)
        if self.mode == "fail":
            self._log(node, action, "failed")
            return {"ok": False, "error": "fence device failure (injected)"}
        return self._power(node, action)

    def _power(self, node: str, action: str) -> dict:
        with self._lock:
            if action in ("off", "reboot"):
                self.powered_off.add(node)
                if not self._power_off(node):
                    self._log(node, action, "failed")
                    return {"ok": False, "error": f"{node} still has processes"}
            if action in ("on", "reboot"):
                self.powered_off.discard(node)
                self._power_on(node)
            self._log(node, action, "ok")
            return {"ok": True, "state": "off" if action == "off" else "on"}

    def may_start(self, node: str) -> bool:
        """False while a node is powered off (the adapter must not restart it)."""
        return node not in self.powered_off

    def _log(self, node: str, action: str, result: str) -> None:
        record = {"target": node, "action": action, "result": result, "ts_ms": wall_ms()}
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    # ------------------------------------------------------------ server

    def start(self) -> None:
        controller = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(REQUEST_LIMIT_BYTES)
                try:
                    request = json.loads(line)
                    answer = controller.handle(request if isinstance(request, dict) else {})
                except json.JSONDecodeError:
                    answer = {"ok": False, "error": "request is not JSON"}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

        self.socket_path.unlink(missing_ok=True)
        self._server = socketserver.ThreadingUnixStreamServer(str(self.socket_path), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="jepsen-fence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.socket_path.unlink(missing_ok=True)


def read_fence_log(path: pathlib.Path) -> list[dict]:
    if not pathlib.Path(path).exists():
        return []
    records = []
    for line in pathlib.Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# ---------------------------------------------------------------- the agent


def parse_agent_input(text: str) -> dict[str, str]:
    """stdin `key=value` lines (fence-agents convention); '#' comments and blanks ignored.
    `port` and `nodename` are accepted as aliases of `plug`, `option` of `action`."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        options[key.strip()] = value.strip()
    for alias in ("port", "nodename"):
        if alias in options and "plug" not in options:
            options["plug"] = options[alias]
    if "option" in options and "action" not in options:
        options["action"] = options["option"]
    return options


def ask_controller(socket_path: str, request: dict, timeout_ms: int) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout_ms / 1000.0)
        connection.connect(socket_path)
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = connection.makefile("rb").readline(REQUEST_LIMIT_BYTES)
    if not answer:
        raise OSError("controller closed the connection")
    return json.loads(answer)


def agent_main(argv: list[str] | None = None, stdin_text: str | None = None) -> int:
    """The fence agent: options from stdin (or `--key=value` arguments)."""
    arguments = argv if argv is not None else sys.argv[1:]
    text = stdin_text if stdin_text is not None else (
        "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read())
    options = parse_agent_input(text + "\n" + "\n".join(
        argument.lstrip("-") for argument in arguments))
    action = options.get("action", "reboot")
    if action in ("metadata", "meta-data"):
        sys.stdout.write(METADATA)
        return EXIT_SUCCESS
    socket_path = options.get("socket") or os.environ.get(SOCKET_ENVIRONMENT_VARIABLE, "")
    if not socket_path:
        print(f"fence_jepsen: no controller socket (socket= or {SOCKET_ENVIRONMENT_VARIABLE})",
              file=sys.stderr)
        return EXIT_FAILURE
    try:
        timeout_ms = int(options.get("timeout_ms", DEFAULT_TIMEOUT_MS))
        answer = ask_controller(socket_path, {"action": action, "plug": options.get("plug")},
                                timeout_ms)
    except (OSError, ValueError) as error:
        print(f"fence_jepsen: {action} failed: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if not answer.get("ok"):
        print(f"fence_jepsen: {action} failed: {answer.get('error')}", file=sys.stderr)
        return EXIT_FAILURE
    if action == "list":
        for node in answer.get("nodes", []):
            print(f"{node},")
        return EXIT_SUCCESS
    if action == "status":
        print(f"Status: {answer['state'].upper()}")
        return EXIT_OFF if answer["state"] == "off" else EXIT_SUCCESS
    return EXIT_SUCCESS
