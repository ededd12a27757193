"""Harness self-test target: a trivial process per node, NOT a model of raftha.

It exists so the harness (namespaces, nemeses, recording, checkers, reports) can be exercised
end to end for real before the product's cluster adapter exists. Each node runs
`python -m jepsen.selftest serve`, which:
- appends a ledger tick "<wall_ms> <node> st-<node>" every tick period (each node owns its
  own resource, so there is never a handover and never an overlap; `--resource` makes every
  node tick one shared id instead, a deliberate split brain for the checkers' negative run);
- answers one-line TCP requests on its port: "ping" -> "pong <node>", "status" -> a status
  document shaped like `raftha status --output json`, "clock" -> the offset read through the
  clock hook (RAFTHA_CLOCK_OFFSET_FILE).
`python -m jepsen.selftest probe --to ADDR:PORT --request ping` is the client: exit 0 with the
answer on stdout, exit 1 when refused (definite failure), exit 2 on timeout (indeterminate).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import socketserver
import sys
import threading
import time

from jepsen import clockhook

PORT = 7400
REQUEST_LIMIT_BYTES = 256
EXIT_OK, EXIT_REFUSED, EXIT_TIMEOUT = 0, 1, 2


def resource_of(node: str) -> str:
    return f"st-{node}"


def status_document(node: str, resource: str, started_ms: int) -> dict:
    return {"cluster": {"name": "selftest", "leader": None, "quorum": None,
                        "commit_index": None},
            "nodes": {node: {"state": "online", "started_ms": started_ms}},
            "resources": {resource: {"node": node, "role": "Started"}}}


def make_handler(node: str, resource: str,
                 started_ms: int) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        timeout = 5

        def handle(self) -> None:
            request = self.rfile.readline(REQUEST_LIMIT_BYTES).decode(errors="replace").strip()
            if request == "ping":
                answer = f"pong {node}"
            elif request == "status":
                answer = json.dumps(status_document(node, resource, started_ms), sort_keys=True)
            elif request == "clock":
                answer = json.dumps({"offset_ms": clockhook.read_offset_ms()})
            else:
                answer = f"error unknown request {request!r}"
            self.wfile.write(answer.encode() + b"\n")

    return Handler


def tick_forever(node: str, resource: str, ledger: pathlib.Path, tick_ms: int) -> None:
    """Append one ledger line per tick with a single O_APPEND write."""
    descriptor = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while True:
        stamp = time.time_ns() // 1_000_000
        os.write(descriptor, f"{stamp} {node} {resource}\n".encode())
        time.sleep(tick_ms / 1000.0)


def serve(node: str, port: int, ledger: pathlib.Path, tick_ms: int, resource: str) -> None:
    started_ms = time.time_ns() // 1_000_000
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("0.0.0.0", port),
                                             make_handler(node, resource, started_ms))
    server.daemon_threads = True
    ticker = threading.Thread(target=tick_forever, args=(node, resource, ledger, tick_ms),
                              daemon=True)
    ticker.start()
    server.serve_forever(poll_interval=0.2)


def probe(address: str, request: str, timeout_s: float) -> int:
    host, _, port_text = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port_text)), timeout=timeout_s) as connection:
            connection.settimeout(timeout_s)
            connection.sendall(request.encode() + b"\n")
            answer = connection.makefile("rb").readline(65536).decode().strip()
    except ConnectionRefusedError:
        print(f"refused by {address}", file=sys.stderr)
        return EXIT_REFUSED
    except TimeoutError:
        print(f"timed out after {timeout_s}s talking to {address}", file=sys.stderr)
        return EXIT_TIMEOUT
    except OSError as error:
        print(f"cannot reach {address}: {error}", file=sys.stderr)
        return EXIT_TIMEOUT
    if not answer:
        print(f"no answer from {address}", file=sys.stderr)
        return EXIT_TIMEOUT
    print(answer)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jepsen.selftest",
                                     description="harness self-test target (not raftha)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--node", required=True)
    serve_parser.add_argument("--port", type=int, default=PORT)
    serve_parser.add_argument("--ledger", type=pathlib.Path, required=True)
    serve_parser.add_argument("--tick-ms", type=int, default=100)
    serve_parser.add_argument("--resource", default=None,
                              help="resource id to tick (default st-<node>)")
    probe_parser = commands.add_parser("probe")
    probe_parser.add_argument("--to", required=True, help="ADDR:PORT")
    probe_parser.add_argument("--request", default="ping")
    probe_parser.add_argument("--timeout-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.node, args.port, args.ledger, args.tick_ms,
              args.resource or resource_of(args.node))
        return 0
    return probe(args.to, args.request, args.timeout_s)


if __name__ == "__main__":
    sys.exit(main())
