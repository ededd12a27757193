"""The fencer: runs fence agents (the exec edge of fencing) and carries out fence requests.

Role: a library the daemon calls. `FenceRunner` runs one fence agent action with the standard
stdin protocol; `execute_fencing` carries out one request (target, action) across the devices
and topology levels that can fence the target and returns a `FenceOutcome` holding every
attempt and the reasons. `FakeFenceRunner` is the in-memory twin for daemon unit tests. The
rules themselves (host checks, level order, delays, reboot phases) are pure and live in
raftha.model.fencing; this module only runs agents and sleeps.

Agent protocol (research/ocf-fence-cli.md section 2.2): the agent runs with no arguments and
reads `key=value` lines on stdin: every device parameter except pcmk_*, then `action=`, then
for a targeted action `nodename=<target>` and the host argument (`port` or `plug`, whichever
the agent's meta-data has, or pcmk_host_argument) set to the pcmk_host_map alias of the
target. Exit codes: 0 success; for status 0 = on, 2 = off, 1 = cannot tell.

Invariants:
- Nothing here raises for agent behaviour: a missing agent, a timeout, garbage output all come
  back as a failed FenceResult / HostCheckDecision with a one-line reason.
- A timed-out agent's whole process group is killed (raftha.agents.process.run_process).
- Every action has a deadline: `stonith-timeout` (or pcmk_<action>_timeout) per device, and
  retries (pcmk_<action>_retries) share that one budget.
- At most one action runs on a device at a time (pcmk_action_limit=1).
- The random part of pcmk_delay_max and the sleeping are injected, so tests are deterministic.
- Parameter values containing a newline are refused (they would forge stdin keys).

Agents started ahead of need: `FenceRunner.prepare(agents)` (called on every configuration
change) reads the agents' meta-data and, through `WaitingAgents`, keeps one process of each
configured agent blocked on its stdin; a request is written to that process (a fence agent
reads its options after its imports), so the interpreter start is paid before the node is
lost. A waiting process serves one request and is replaced; see WaitingAgents.

Entry points for the daemon: `fence_node(config, target, runner)` (one request configured
from the cluster configuration), `FenceRequests` (runs requests in the background, one per
target at a time, and hands each FenceOutcome to a callback), `Lease` and `LeaseGuard` (the
lease measured from the heartbeat send time; pets the watchdog only while it is valid).

Watchdog side (the protocol is defined in fencing/raftha-watchdog's docstring):
`start_watchdog` spawns it in its own session, `WatchdogClient.pet()` writes
"PET <pid>" to DIR/pet.fifo, `disarm()` writes "DISARM <pid>", and `ProcessGroupRegistry`
maintains DIR/process-groups ("<pgid> <leader_start_time> <label>" lines, replaced
atomically) for the executor.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from raftha.agents.environment import plain_environment
from raftha.agents.process import (
    kill_process_group,
    process_group_exists,
    run_process,
    supervise_process,
)
from raftha.daemon import clock
from raftha.model.config import Configuration, FencingLevel
from raftha.model.fencing import (
    DEFAULT_ACTION_TIMEOUT_MS,
    FenceDevice,
    FencePlan,
    FencingConfigError,
    HostCheckDecision,
    action_retries,
    action_timeout_ms,
    agent_action_for,
    decide_from_list,
    decide_from_status,
    decide_none,
    decide_static,
    delay_ms,
    devices_from_config,
    fencing_settings,
    host_argument_for,
    host_check_method,
    level_phases,
    levels_for_target,
    plan_fencing,
    port_for,
    priority_fencing_delay_ms,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AGENT_DIRECTORIES = (REPOSITORY_ROOT / "fencing", Path("/usr/sbin"),
                             Path("/usr/local/sbin"))
# The daemon's own interpreter comes first, so our Python agents (`#!/usr/bin/env python3`)
# run with the interpreter that has raftha and its dependencies.
DEFAULT_PATH = os.pathsep.join(
    [str(Path(sys.executable).parent),
     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
AGENT_NAME_PATTERN = re.compile(r"^fence_[A-Za-z0-9_.-]+$")
MAX_METADATA_BYTES = 1024 * 1024
OUTPUT_TAIL_CHARS = 2000
METADATA_TIMEOUT_MS = 15_000
LIST_CACHE_MS = 60_000
STATUS_ON, STATUS_ERROR, STATUS_OFF = 0, 1, 2
RESULT_OK, RESULT_FAILED, RESULT_TIMEOUT = "ok", "failed", "timeout"
MAX_EVENT_ATTEMPTS = 16


# ---------------------------------------------------------------- meta-data


@dataclass(frozen=True)
class FenceParameter:
    name: str
    required: bool
    deprecated: bool
    obsoletes: str
    content_type: str
    default: str | None
    shortdesc: str


@dataclass(frozen=True)
class FenceActionInfo:
    name: str
    on_target: bool
    automatic: bool


@dataclass(frozen=True)
class FenceAgentMetadata:
    """A fence agent's meta-data (fence-agents' metadata.rng shape)."""

    name: str
    shortdesc: str
    parameters: tuple[FenceParameter, ...]
    actions: tuple[FenceActionInfo, ...]

    @property
    def action_names(self) -> frozenset[str]:
        return frozenset(action.name for action in self.actions)

    @property
    def parameter_names(self) -> frozenset[str]:
        return frozenset(parameter.name for parameter in self.parameters)

    def supports(self, action: str) -> bool:
        return action in self.action_names

    @property
    def needs_unfencing(self) -> bool:
        """True when `on` is automatic (fabric fencing: nodes are unfenced before use)."""
        return any(action.name == "on" and action.automatic for action in self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "shortdesc": self.shortdesc,
            "parameters": [{"name": p.name, "required": p.required, "deprecated": p.deprecated,
                            "obsoletes": p.obsoletes, "type": p.content_type,
                            "default": p.default, "shortdesc": p.shortdesc}
                           for p in self.parameters],
            "actions": [{"name": a.name, "on_target": a.on_target, "automatic": a.automatic}
                        for a in self.actions],
        }


class FenceMetadataError(ValueError):
    """Fence agent meta-data that cannot be understood; the message is one line."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def parse_fence_metadata(text: str) -> FenceAgentMetadata:
    """Parse `<resource-agent>` fence meta-data; raises FenceMetadataError."""
    if len(text.encode("utf-8", "replace")) > MAX_METADATA_BYTES:
        raise FenceMetadataError("fence meta-data larger than 1 MiB")
    # ElementTree resolves no external entities; drop a DOCTYPE so nothing is even declared.
    cleaned = re.sub(r"<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", "", text, count=1)
    try:
        root = ElementTree.fromstring(cleaned)
    except ElementTree.ParseError as error:
        raise FenceMetadataError(f"fence meta-data is not XML: {error}") from None
    if root.tag != "resource-agent" or not root.get("name"):
        raise FenceMetadataError("fence meta-data lacks <resource-agent name=...>")
    parameters = []
    for element in root.findall("parameters/parameter"):
        content = element.find("content")
        short = element.find("shortdesc")
        parameters.append(FenceParameter(
            name=element.get("name", ""),
            required=_flag(element.get("required")),
            deprecated=_flag(element.get("deprecated")),
            obsoletes=element.get("obsoletes", ""),
            content_type=content.get("type", "string") if content is not None else "string",
            default=content.get("default") if content is not None else None,
            shortdesc=(short.text or "").strip() if short is not None else "",
        ))
    actions = tuple(FenceActionInfo(element.get("name", ""), _flag(element.get("on_target")),
                                    _flag(element.get("automatic")))
                    for element in root.findall("actions/action"))
    if not actions:
        raise FenceMetadataError(f"fence meta-data of {root.get('name')} lists no actions")
    return FenceAgentMetadata(root.get("name", ""), root.get("shortdesc", ""),
                              tuple(parameters), actions)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class AgentCall:
    """One run of a fence agent process."""

    agent: str
    action: str
    rc: int | None            # None: could not run, or killed at the deadline
    timed_out: bool
    output: str               # stdout, bounded
    error_tail: str           # last part of stderr
    duration_ms: int
    problem: str = ""         # why it could not run at all

    @property
    def reason(self) -> str:
        if self.problem:
            return self.problem
        if self.timed_out:
            return f"{self.agent} {self.action} timed out after {self.duration_ms} ms"
        last = _last_line(self.error_tail) or _last_line(self.output)
        detail = f": {last}" if last else ""
        return f"{self.agent} {self.action} exited {self.rc}{detail}"


@dataclass(frozen=True)
class FenceResult:
    """One device action for one target (after its retries)."""

    target: str
    action: str
    device: str
    level: int
    rc: int | None
    result: str               # "ok" | "failed" | "timeout"
    reason: str
    duration_ms: int
    tries: int = 1
    decides: bool = True      # False for the `on` half of a reboot (only reported)

    @property
    def ok(self) -> bool:
        return self.result == RESULT_OK

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "action": self.action, "device": self.device,
                "level": self.level, "rc": self.rc, "result": self.result,
                "reason": self.reason, "duration_ms": self.duration_ms, "tries": self.tries,
                "decides": self.decides}


@dataclass(frozen=True)
class FenceOutcome:
    """The answer to one fence request: ok when one level fully succeeded."""

    target: str
    action: str
    result: str               # "ok" | "failed"
    device: str | None        # the device(s) of the level that succeeded, comma separated
    level: int | None
    attempts: tuple[FenceResult, ...]
    host_checks: tuple[HostCheckDecision, ...]
    plan: FencePlan
    explanation: tuple[str, ...]
    delay_ms: int
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.result == RESULT_OK

    def event_body(self, max_attempts: int = MAX_EVENT_ATTEMPTS) -> dict[str, Any]:
        """The compact plain-data form for a fence-result event in the log: the answer, the
        last reason, and the first `max_attempts` attempts (bounded, reasons cut to 300
        characters), so the entry stays small whatever the agents printed."""
        return {
            "target": self.target, "action": self.action, "result": self.result,
            "device": self.device, "level": self.level,
            "reason": (self.explanation[-1] if self.explanation else "")[:300],
            "delay_ms": self.delay_ms, "duration_ms": self.duration_ms,
            "attempts": [{"device": attempt.device, "action": attempt.action,
                          "level": attempt.level, "result": attempt.result, "rc": attempt.rc,
                          "reason": attempt.reason[:300], "duration_ms": attempt.duration_ms}
                         for attempt in self.attempts[:max_attempts]],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "action": self.action, "result": self.result,
                "device": self.device, "level": self.level,
                "attempts": [attempt.to_dict() for attempt in self.attempts],
                "host_checks": [check.to_dict() for check in self.host_checks],
                "plan": self.plan.to_dict(), "explanation": list(self.explanation),
                "delay_ms": self.delay_ms, "duration_ms": self.duration_ms}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


# ---------------------------------------------------------------- the agent input


class FenceInputError(ValueError):
    """A device parameter that cannot be written on the agent's stdin."""


def agent_input(device: FenceDevice, agent_action: str, target: str | None,
                host_argument: str | None) -> str:
    """The stdin text for one agent run. Device parameters come first and the fencer's own
    keys last, so ours win (agents take the last value of a repeated key). A configured
    host-argument value is kept unless it is "dynamic" (Pacemaker's rule)."""
    lines = []
    configured = dict(device.params)
    for name, value in device.params:
        if "\n" in name or "\n" in value or "\r" in value or "=" in name:
            raise FenceInputError(f"parameter {name!r} of {device.id} contains a newline or '='")
        if target is not None and name == host_argument:
            continue   # written last, below
        lines.append(f"{name}={value}")
    lines.append(f"action={agent_action}")
    if target is not None:
        lines.append(f"nodename={target}")
        if host_argument is not None:
            explicit = configured.get(host_argument)
            value = explicit if explicit not in (None, "dynamic") else port_for(device, target)
            lines.append(f"{host_argument}={value}")
    return "\n".join(lines) + "\n"


def find_agent(agent: str, directories: Sequence[Path]) -> Path | None:
    """The executable `fence_*` named `agent` in the first directory that has it."""
    if not AGENT_NAME_PATTERN.match(agent):
        return None
    for directory in directories:
        candidate = directory / agent
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


# ---------------------------------------------------------------- runners


class FenceRunnerLike(Protocol):
    """What execute_fencing needs; FenceRunner and FakeFenceRunner provide it."""

    def check_host(self, device: FenceDevice, target: str,
                   timeout_ms: int) -> HostCheckDecision: ...

    def supports(self, device: FenceDevice, action: str) -> bool: ...

    def fence_device(self, device: FenceDevice, target: str, action: str, *, level: int,
                     timeout_ms: int, decides: bool = True) -> FenceResult: ...

    def sleep_ms(self, milliseconds: int) -> None: ...

    def random_fraction(self) -> float: ...


AGENT_DIRECTORIES_VARIABLE = "RAFTHA_FENCE_AGENT_DIRS"


def default_agent_directories() -> tuple[Path, ...]:
    """Directories in $RAFTHA_FENCE_AGENT_DIRS (colon-separated, searched first), then ours
    (fencing/), then /usr/sbin and /usr/local/sbin."""
    extra = [Path(item) for item in os.environ.get(AGENT_DIRECTORIES_VARIABLE, "").split(":")
             if item]
    return (*extra, *DEFAULT_AGENT_DIRECTORIES)


# ---------------------------------------------------------------- agents started ahead of need

MAX_PIPED_INPUT_BYTES = 32 * 1024      # well inside a pipe buffer: the write never blocks
MAX_WAITING_AGENTS = 8
DISCARD_WAIT_S = 5.0


def agent_file_key(path: Path) -> tuple[str, int, int] | None:
    """What identifies one version of an agent file: (path, mtime_ns, size)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (str(path), status.st_mtime_ns, status.st_size)


def discard_process(process: subprocess.Popen[bytes]) -> None:
    """Kill a process started in its own session (its whole group) and reap it."""
    kill_process_group(process.pid, signal.SIGKILL)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    try:
        process.wait(DISCARD_WAIT_S)
    except subprocess.TimeoutExpired:
        pass


@dataclass
class WaitingAgent:
    key: tuple[str, int, int] | None     # the agent file version the process runs
    process: subprocess.Popen[bytes]


class WaitingAgents:
    """Fence agent processes started ahead of need, one per agent file, each blocked on its
    stdin. Agents read their `key=value` options only after their imports, so a request
    given to a waiting process skips the interpreter start and the imports (0.2-1 s on a
    loaded machine), which is most of a sandbox or IPMI agent's run time.

    Invariants:
    - a process serves one request at most: `take` removes it, and `replenish` starts a
      fresh one for the next request;
    - a process is handed out only while it runs and its agent file is the one it started
      from; any other is killed;
    - at most MAX_WAITING_AGENTS wait at once, only for the agents last `replace_all`ed;
    - a waiting process gets no input but its request: when the daemon dies its stdin
      closes empty and the agent exits without acting (no options, no target);
    - `close` kills every waiting process; nothing is started after it.
    """

    def __init__(self, environment: Callable[[], dict[str, str]]) -> None:
        self._environment = environment
        self._lock = threading.Lock()
        self._waiting: dict[str, WaitingAgent] = {}
        self._wanted: tuple[Path, ...] = ()
        self._closed = False

    def count(self) -> int:
        with self._lock:
            return len(self._waiting)

    def pids(self) -> list[int]:
        with self._lock:
            return [item.process.pid for item in self._waiting.values()]

    def take(self, path: Path) -> subprocess.Popen[bytes] | None:
        """The process waiting for `path`, removed from the pool; None when there is none
        that is alive and runs the current version of the file."""
        with self._lock:
            waiting = self._waiting.pop(str(path), None)
        if waiting is None:
            return None
        if waiting.process.poll() is not None or agent_file_key(path) != waiting.key:
            discard_process(waiting.process)
            return None
        return waiting.process

    def replace_all(self, paths: Iterable[Path]) -> None:
        """Wait with a fresh process for each of `paths` (the first MAX_WAITING_AGENTS);
        every process waiting so far is stopped."""
        wanted = tuple(dict.fromkeys(paths))[:MAX_WAITING_AGENTS]
        with self._lock:
            if self._closed:
                return
            old = list(self._waiting.values())
            self._waiting = {}
            self._wanted = wanted
        for item in old:
            discard_process(item.process)
        for path in wanted:
            self.replenish(path)

    def replenish(self, path: Path) -> None:
        """Start a process for `path` if it is wanted and none waits for it."""
        with self._lock:
            if self._closed or path not in self._wanted or str(path) in self._waiting:
                return
        started = self._start(path)
        if started is None:
            return
        with self._lock:
            keep = not self._closed and path in self._wanted and str(path) not in self._waiting
            if keep:
                self._waiting[str(path)] = started
        if not keep:
            discard_process(started.process)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            old = list(self._waiting.values())
            self._waiting = {}
        for item in old:
            discard_process(item.process)

    def _start(self, path: Path) -> WaitingAgent | None:
        key = agent_file_key(path)
        try:
            process = subprocess.Popen(
                [str(path)], env=self._environment(), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                close_fds=True, cwd="/")
        except OSError:
            return None
        return WaitingAgent(key, process)


@dataclass(frozen=True)
class FenceRunnerSettings:
    agent_directories: tuple[Path, ...] = field(default_factory=default_agent_directories)
    path: str = DEFAULT_PATH
    environment_extra: tuple[tuple[str, str], ...] = ()
    kill_grace_ms: int = 2000
    metadata_timeout_ms: int = METADATA_TIMEOUT_MS
    list_cache_ms: int = LIST_CACHE_MS
    retry_pause_ms: int = 500
    # Agents of the configured devices are started ahead of need (WaitingAgents).
    start_ahead: bool = True


INPUT_DIRECTORY_PREFIX = "raftha-fence-"
# Directories of the old naming (no creator pid) are swept once this old.
UNNAMED_INPUT_MAX_AGE_S = 3600.0


def sweep_stale_input_directories(root: str | None = None) -> int:
    """Remove the private input directories (an agent's stdin text: device parameters,
    passwords included) that a runner killed mid-call left behind; their names carry the
    creator's pid, and those of live processes are kept. Returns how many were removed."""
    root = root or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(INPUT_DIRECTORY_PREFIX) or not entry.is_dir():
            continue
        creator = entry.name[len(INPUT_DIRECTORY_PREFIX):].split("-", 1)[0]
        if creator.isdigit() and "-" in entry.name[len(INPUT_DIRECTORY_PREFIX):]:
            if process_start_time(int(creator)) is not None:   # its creator still runs
                continue
        else:
            try:
                if time.time() - entry.stat().st_mtime < UNNAMED_INPUT_MAX_AGE_S:
                    continue
            except OSError:
                continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


class FenceRunner:
    """Runs real fence agents. Thread-safe; one action at a time per device."""

    def __init__(self, settings: FenceRunnerSettings | None = None, *,
                 sleeper: Callable[[float], None] = time.sleep,
                 random_source: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] = clock.monotonic) -> None:
        self.settings = settings or FenceRunnerSettings()
        self.sleeper = sleeper
        self.random_source = random_source or random.SystemRandom().random
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._device_locks: dict[str, threading.Lock] = {}
        self._metadata_cache: dict[tuple[str, int, int], FenceAgentMetadata] = {}
        self._list_cache: dict[str, tuple[float, int, str]] = {}
        self.waiting = WaitingAgents(self.environment)
        sweep_stale_input_directories()

    def environment(self) -> dict[str, str]:
        return plain_environment(self.settings.path, dict(self.settings.environment_extra))

    def prepare(self, agents: Iterable[str]) -> None:
        """Ready the runner for requests that will use `agents`: their meta-data is read
        now (cached), and with `start_ahead` one process of each waits on its stdin. Called
        on every configuration change: waiting processes of agents no longer configured
        are stopped, the others replaced. Blocks for the meta-data runs (bounded)."""
        found = [(agent, self.agent_path(agent)) for agent in sorted(set(agents))]
        found = [(agent, path) for agent, path in found if path is not None]
        if self.settings.start_ahead:
            # Started first: their imports overlap with the meta-data runs below.
            self.waiting.replace_all([path for _agent, path in found])
        for agent, _path in found:
            try:
                self.metadata(agent)
            except FenceMetadataError:
                continue

    def close(self) -> None:
        """Stop every waiting agent process (daemon shutdown)."""
        self.waiting.close()

    # -- injected effects ------------------------------------------------------------------

    def sleep_ms(self, milliseconds: int) -> None:
        if milliseconds > 0:
            self.sleeper(milliseconds / 1000.0)

    def random_fraction(self) -> float:
        return min(max(self.random_source(), 0.0), 0.999999)

    # -- agents ----------------------------------------------------------------------------

    def agent_path(self, agent: str) -> Path | None:
        return find_agent(agent, self.settings.agent_directories)

    def metadata(self, agent: str) -> FenceAgentMetadata:
        """The agent's meta-data (cached per file version); raises FenceMetadataError."""
        path = self.agent_path(agent)
        if path is None:
            raise FenceMetadataError(f"fence agent {agent!r} not found in "
                                     f"{', '.join(map(str, self.settings.agent_directories))}")
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._metadata_cache.get(key)
        if cached is not None:
            return cached
        # A process of its own: the waiting one is kept for a fence request.
        call = self._run_new(path, "action=metadata\n", agent, "metadata",
                             self.settings.metadata_timeout_ms)
        if call.rc != 0:
            raise FenceMetadataError(f"meta-data of {agent}: {call.reason}")
        parsed = parse_fence_metadata(call.output)
        with self._lock:
            self._metadata_cache[key] = parsed
        return parsed

    def supports(self, device: FenceDevice, action: str) -> bool:
        try:
            return self.metadata(device.agent).supports(agent_action_for(device, action))
        except FenceMetadataError:
            return False

    def call(self, device: FenceDevice, action: str, target: str | None,
             timeout_ms: int) -> AgentCall:
        """One agent run of `action` (already mapped by pcmk_<action>_action)."""
        path = self.agent_path(device.agent)
        if path is None:
            return AgentCall(device.agent, action, None, False, "", "", 0,
                             f"fence agent {device.agent!r} not found")
        host_argument = None
        if target is not None:
            try:
                host_argument = host_argument_for(
                    device, self.metadata(device.agent).parameter_names)
            except FenceMetadataError as error:
                return AgentCall(device.agent, action, None, False, "", "", 0, str(error))
        try:
            text = agent_input(device, action, target, host_argument)
        except FenceInputError as error:
            return AgentCall(device.agent, action, None, False, "", "", 0, str(error))
        with self._device_lock(device.id):
            return self._run(path, text, device.agent, action, timeout_ms)

    def _device_lock(self, device_id: str) -> threading.Lock:
        with self._lock:
            return self._device_locks.setdefault(device_id, threading.Lock())

    def _run(self, path: Path, stdin_text: str, agent: str, action: str,
             timeout_ms: int) -> AgentCall:
        """Run the agent with `stdin_text` on its stdin: in the process that waits for it
        when there is one (its interpreter start is already paid), else in a new one."""
        process = self.waiting.take(path) if len(stdin_text) <= MAX_PIPED_INPUT_BYTES else None
        if process is not None:
            outcome = self._run_waiting(process, stdin_text, timeout_ms)
            # The next request gets a fresh process; starting it must not delay this answer.
            threading.Thread(target=self.waiting.replenish, args=(path,),
                             name="fence-agent-ahead", daemon=True).start()
            if outcome is not None:
                return self._agent_call(agent, action, outcome)
        return self._run_new(path, stdin_text, agent, action, timeout_ms)

    def _run_waiting(self, process: subprocess.Popen[bytes], stdin_text: str,
                     timeout_ms: int) -> Any:
        """Give a waiting agent its input and supervise it; None when it is gone already."""
        started = time.monotonic()   # the deadline counts from the request, as for a new one
        try:
            assert process.stdin is not None
            process.stdin.write(stdin_text.encode("utf-8"))
            process.stdin.close()
        except (OSError, ValueError):
            discard_process(process)
            return None
        return supervise_process(process, started, timeout_ms=max(timeout_ms, 1),
                                 kill_grace_ms=self.settings.kill_grace_ms,
                                 stdout_limit_bytes=MAX_METADATA_BYTES)

    def _run_new(self, path: Path, stdin_text: str, agent: str, action: str,
                 timeout_ms: int) -> AgentCall:
        """A new agent process. The text goes through a private 0600 file that a shell
        redirects (run_process gives agents no stdin pipe); the shell execs the agent, so
        the agent leads its own process group."""
        directory = tempfile.mkdtemp(prefix=f"{INPUT_DIRECTORY_PREFIX}{os.getpid()}-")
        try:
            input_path = os.path.join(directory, "input")
            descriptor = os.open(input_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(stdin_text)
            outcome = run_process(
                ["/bin/sh", "-c", 'exec "$0" < "$1"', str(path), input_path],
                environment=self.environment(), timeout_ms=max(timeout_ms, 1),
                kill_grace_ms=self.settings.kill_grace_ms, stdout_limit_bytes=MAX_METADATA_BYTES)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return self._agent_call(agent, action, outcome)

    @staticmethod
    def _agent_call(agent: str, action: str, outcome: Any) -> AgentCall:
        stderr = outcome.stderr_tail.decode("utf-8", "replace")[-OUTPUT_TAIL_CHARS:]
        rc = None if outcome.timed_out else outcome.returncode
        return AgentCall(agent, action, rc, outcome.timed_out,
                         outcome.stdout.decode("utf-8", "replace"), stderr,
                         outcome.duration_ms, outcome.spawn_error)

    # -- host checks -----------------------------------------------------------------------

    def check_host(self, device: FenceDevice, target: str,
                   timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS) -> HostCheckDecision:
        """Can `device` fence `target`? Runs `list` or `status` when the method needs it."""
        try:
            metadata = self.metadata(device.agent)
        except FenceMetadataError as error:
            return HostCheckDecision(device.id, target, "none", False, str(error))
        method = host_check_method(device, metadata.action_names)
        if method == "static-list":
            return decide_static(device, target)
        if method == "none":
            return decide_none(device, target)
        if method == "dynamic-list":
            rc, output = self._list_output(device, action_timeout_ms(device, "list",
                                                                     timeout_ms))
            listed = decide_from_list(device, target, rc, output)
            # Pacemaker's default is dynamic-list only while `list` works; else status.
            if rc == 0 or device.host_check is not None or not metadata.supports("status"):
                return listed
        return self._status_check(device, target, timeout_ms)

    def _status_check(self, device: FenceDevice, target: str,
                      timeout_ms: int) -> HostCheckDecision:
        call = self.call(device, agent_action_for(device, "status"), target,
                         action_timeout_ms(device, "status", timeout_ms))
        decision = decide_from_status(device, target, -1 if call.rc is None else call.rc)
        if call.rc is None:
            return HostCheckDecision(device.id, target, "status", False, call.reason)
        return decision

    def _list_output(self, device: FenceDevice, timeout_ms: int) -> tuple[int, str]:
        """`list` output, cached for list_cache_ms (Pacemaker caches it too)."""
        now = self.monotonic()
        with self._lock:
            cached = self._list_cache.get(device.id)
        if cached is not None and now - cached[0] < self.settings.list_cache_ms / 1000.0:
            return cached[1], cached[2]
        call = self.call(device, agent_action_for(device, "list"), None, timeout_ms)
        rc = -1 if call.rc is None else call.rc
        if rc == 0:
            with self._lock:
                self._list_cache[device.id] = (now, rc, call.output)
        return rc, call.output

    def list_targets(self, device: FenceDevice,
                     timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS) -> AgentCall:
        return self.call(device, agent_action_for(device, "list"), None,
                         action_timeout_ms(device, "list", timeout_ms))

    def status(self, device: FenceDevice, target: str,
               timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS) -> AgentCall:
        """Power state of target: rc 0 on, 2 off, 1 (or None) unknown."""
        return self.call(device, agent_action_for(device, "status"), target,
                         action_timeout_ms(device, "status", timeout_ms))

    def monitor(self, device: FenceDevice,
                timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS) -> AgentCall:
        return self.call(device, agent_action_for(device, "monitor"), None,
                         action_timeout_ms(device, "monitor", timeout_ms))

    # -- fencing ---------------------------------------------------------------------------

    def fence_device(self, device: FenceDevice, target: str, action: str, *, level: int = 0,
                     timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS,
                     decides: bool = True) -> FenceResult:
        """Run `action` (off/on/reboot) for `target` on one device, retrying within one
        budget of pcmk_<action>_timeout (else `timeout_ms`)."""
        budget_ms = action_timeout_ms(device, action, timeout_ms)
        retries = action_retries(device, action)
        agent_action = agent_action_for(device, action)
        started = self.monotonic()
        tries = 0
        call: AgentCall | None = None
        while True:
            remaining_ms = budget_ms - int((self.monotonic() - started) * 1000)
            if remaining_ms <= 0:
                break
            tries += 1
            call = self.call(device, agent_action, target, remaining_ms)
            if call.rc == 0 or call.problem or tries > retries:
                break
            self.sleep_ms(min(self.settings.retry_pause_ms,
                              budget_ms - int((self.monotonic() - started) * 1000)))
        duration_ms = int((self.monotonic() - started) * 1000)
        if call is None:
            return FenceResult(target, action, device.id, level, None, RESULT_TIMEOUT,
                               f"no time left to run {device.id}", duration_ms, 0, decides)
        if call.rc == 0:
            return FenceResult(target, action, device.id, level, 0, RESULT_OK,
                               f"{device.id} {agent_action} {target}: done", duration_ms,
                               tries, decides)
        result = RESULT_TIMEOUT if call.timed_out else RESULT_FAILED
        return FenceResult(target, action, device.id, level, call.rc, result,
                           f"{device.id}: {call.reason} (try {tries} of {retries + 1})",
                           duration_ms, tries, decides)


# ---------------------------------------------------------------- stonith resources


def stonith_resource_operation(primitive: Any, operation: str, runner: FenceRunner,
                               timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS) -> tuple[int, str]:
    """What a `stonith:` resource's operation means to the executor, as in Pacemaker, where
    the fencer owns the device: start and stop register and unregister it (nothing to run,
    success once the agent exists and the parameters are valid); a monitor or probe runs the
    agent's `monitor` (the device is reachable). Returns an OCF exit code and a one-line
    reason: 0 success, 7 not running (a probe of a device not started here), 5 agent not
    installed, 6 bad parameters, 1 monitor failed."""
    from raftha.model.fencing import device_from_primitive
    try:
        device = device_from_primitive(primitive)
    except FencingConfigError as error:
        return 6, str(error)
    if runner.agent_path(device.agent) is None:
        return 5, f"fence agent {device.agent} is not installed"
    if operation in ("start", "stop"):
        return 0, ""
    if operation != "monitor":
        return 3, f"{operation} is not supported by stonith resources"
    call = runner.monitor(device, timeout_ms)
    if call.rc == 0:
        return 0, ""
    return 1, call.reason


# ---------------------------------------------------------------- the fake twin


@dataclass
class FakeFenceCall:
    kind: str                 # "check" | "fence"
    device: str
    target: str
    action: str
    level: int
    timeout_ms: int


@dataclass
class FakeFenceRunner:
    """In-memory FenceRunner for daemon unit tests.

    `can_fence`: device id -> targets it can fence (missing device: every target).
    `results`: (device, target, action) -> list of "ok"/"failed"/"timeout" consumed in order
    (the last one repeats); default "ok". `unsupported`: (device, action) pairs the device's
    agent lacks. Every call is recorded in `calls`; sleeps add up in `slept_ms`.
    """

    can_fence: dict[str, set[str]] = field(default_factory=dict)
    results: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    unsupported: set[tuple[str, str]] = field(default_factory=set)
    fraction: float = 0.0
    calls: list[FakeFenceCall] = field(default_factory=list)
    slept_ms: list[int] = field(default_factory=list)
    powered_off: set[str] = field(default_factory=set)

    def check_host(self, device: FenceDevice, target: str,
                   timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS) -> HostCheckDecision:
        self.calls.append(FakeFenceCall("check", device.id, target, "", 0, timeout_ms))
        allowed = self.can_fence.get(device.id)
        able = allowed is None or target in allowed
        return HostCheckDecision(device.id, target, "fake", able,
                                 f"{device.id} {'can' if able else 'cannot'} fence {target}")

    def supports(self, device: FenceDevice, action: str) -> bool:
        return (device.id, action) not in self.unsupported

    def fence_device(self, device: FenceDevice, target: str, action: str, *, level: int = 0,
                     timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS,
                     decides: bool = True) -> FenceResult:
        self.calls.append(FakeFenceCall("fence", device.id, target, action, level, timeout_ms))
        queue = self.results.get((device.id, target, action))
        result = RESULT_OK
        if queue:
            result = queue.pop(0) if len(queue) > 1 else queue[0]
        if result == RESULT_OK and action == "off":
            self.powered_off.add(target)
        if result == RESULT_OK and action in ("on", "reboot"):
            self.powered_off.discard(target)
        rc = {RESULT_OK: 0, RESULT_FAILED: 1, RESULT_TIMEOUT: None}[result]
        return FenceResult(target, action, device.id, level, rc, result,
                           f"fake {device.id} {action} {target}: {result}", 0, 1, decides)

    def sleep_ms(self, milliseconds: int) -> None:
        if milliseconds > 0:
            self.slept_ms.append(milliseconds)

    def random_fraction(self) -> float:
        return self.fraction

    def fence_calls(self) -> list[tuple[str, str, int]]:
        """(device, action, level) of every fence call, in order."""
        return [(call.device, call.action, call.level) for call in self.calls
                if call.kind == "fence"]


# ---------------------------------------------------------------- one fence request


def execute_fencing(target: str, action: str, devices: Iterable[FenceDevice],
                    levels: Iterable[FencingLevel], runner: FenceRunnerLike, *,
                    timeout_ms: int = DEFAULT_ACTION_TIMEOUT_MS,
                    node_attributes: Mapping[str, str] | None = None,
                    priority_delay_ms: int = 0,
                    monotonic: Callable[[], float] = clock.monotonic) -> FenceOutcome:
    """Fence `target` with `action` ("reboot", "off" or "on").

    Steps (every decision lands in the outcome's explanation):
    1. host checks for the devices that matter (the target's topology levels, else all);
    2. the plan: topology levels in index order, else capable devices by priority;
    3. one delay before the first device runs: pcmk_delay_base/max of that device plus
       `priority_delay_ms` (computed by the caller with priority_fencing_delay_ms);
    4. levels in order; inside a level every device must succeed; a reboot on several
       devices (or on a device without reboot) is off to all, then on to all, and only the
       off phase decides; the first level that succeeds ends the request.
    `timeout_ms` is stonith-timeout: each device action gets its own budget of it.
    """
    if action not in ("reboot", "off", "on"):
        raise ValueError(f"fence action must be reboot, off or on, not {action!r}")
    started = monotonic()
    devices = tuple(devices)
    levels = tuple(levels)
    by_id = {device.id: device for device in devices}
    topology = levels_for_target(levels, target, node_attributes)
    wanted = ({device_id for level in topology for device_id in level.devices} if topology
              else set(by_id))
    checks = tuple(runner.check_host(by_id[device_id], target, timeout_ms)
                   for device_id in by_id if device_id in wanted and by_id[device_id].enabled)
    plan = plan_fencing(target, action, devices, levels,
                        {check.device: check for check in checks}, node_attributes)
    explanation = list(plan.explanation)
    attempts: list[FenceResult] = []
    total_delay_ms = 0
    if not plan.empty:
        first = by_id[plan.levels[0].devices[0]]
        device_delay_ms, why = delay_ms(first, target, runner.random_fraction())
        total_delay_ms = device_delay_ms + max(priority_delay_ms, 0)
        if total_delay_ms > 0:
            explanation.append(why if device_delay_ms else "no device delay")
            if priority_delay_ms > 0:
                explanation.append(f"priority-fencing-delay {priority_delay_ms} ms")
            runner.sleep_ms(total_delay_ms)
    for planned in plan.levels:
        level_devices = [by_id[device_id] for device_id in planned.devices]
        supports_reboot = all(runner.supports(device, "reboot") for device in level_devices)
        level_ok = True
        for phase in level_phases(action, len(level_devices), supports_reboot):
            for device in level_devices:
                result = runner.fence_device(device, target, phase.action, level=planned.index,
                                             timeout_ms=timeout_ms, decides=phase.decides)
                attempts.append(result)
                explanation.append(f"level {planned.index}: {result.reason} ({result.result})")
                if not result.ok and phase.decides:
                    level_ok = False
                    break
                if not result.ok:
                    explanation.append(f"level {planned.index}: {phase.action} failure of "
                                       f"{device.id} ignored (the off phase decides)")
            if not level_ok:
                break
        if level_ok:
            names = ",".join(planned.devices)
            explanation.append(f"{target} fenced ({action}) by level {planned.index}: {names}")
            return FenceOutcome(target, action, RESULT_OK, names, planned.index,
                                tuple(attempts), checks, plan, tuple(explanation),
                                total_delay_ms, int((monotonic() - started) * 1000))
        explanation.append(f"level {planned.index} failed; trying the next level"
                           if planned is not plan.levels[-1] else
                           f"level {planned.index} failed; no level left")
    explanation.append(f"fencing {target} ({action}) failed")
    return FenceOutcome(target, action, RESULT_FAILED, None, None, tuple(attempts), checks,
                        plan, tuple(explanation), total_delay_ms,
                        int((monotonic() - started) * 1000))


def fence_node(config: Configuration, target: str, runner: FenceRunnerLike, *,
               action: str | None = None, node_attributes: Mapping[str, str] | None = None,
               node_priorities: Mapping[str, int] | None = None,
               target_lost: bool = True) -> FenceOutcome:
    """One fence request configured from the cluster configuration: its stonith primitives
    and fencing topology, stonith-action (when `action` is None), stonith-timeout and
    priority-fencing-delay (`node_priorities`: total resource priority per node; the delay
    applies only when `target_lost`). Never raises for bad configuration: the outcome is
    failed with the reason."""
    try:
        settings = fencing_settings(config)
        devices = devices_from_config(config)
    except FencingConfigError as error:
        return failed_outcome(target, action or "reboot", str(error))
    priority_delay = priority_fencing_delay_ms(target, node_priorities or {},
                                               settings.priority_delay_ms, target_lost)
    return execute_fencing(target, action or settings.action, devices,
                           config.fencing_topology, runner, timeout_ms=settings.timeout_ms,
                           node_attributes=node_attributes, priority_delay_ms=priority_delay)


def failed_outcome(target: str, action: str, reason: str) -> FenceOutcome:
    """A request that could not even be planned."""
    return FenceOutcome(target, action, RESULT_FAILED, None, None, (), (),
                        FencePlan(target, action, (), (reason,)), (reason,), 0, 0)


class FenceRequests:
    """Runs fence requests in the background and reports each outcome to `on_done`.

    At most one request per target runs at a time: a request for a target already being
    fenced joins it (the caller gets False) instead of fencing twice. At most
    `max_parallel` requests run at once (1 when concurrent-fencing is false). `on_done` is
    called from the worker thread; it must not block for long (propose the result event).
    """

    def __init__(self, runner: FenceRunnerLike, on_done: Callable[[FenceOutcome], None], *,
                 max_parallel: int = 2) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self.runner = runner
        self.on_done = on_done
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running: dict[str, str] = {}          # target -> action
        self._threads: list[threading.Thread] = []

    def submit(self, config: Configuration, target: str, action: str | None = None, *,
               node_attributes: Mapping[str, str] | None = None,
               node_priorities: Mapping[str, int] | None = None,
               target_lost: bool = True) -> bool:
        """Start fencing `target`; False when a request for it is already running."""
        with self._lock:
            if target in self._running:
                return False
            self._running[target] = action or "default"
            thread = threading.Thread(
                target=self._work, name=f"fence-{target}", daemon=True,
                args=(config, target, action, node_attributes, node_priorities, target_lost))
            self._threads = [item for item in self._threads if item.is_alive()]
            self._threads.append(thread)
        thread.start()
        return True

    def _work(self, config: Configuration, target: str, action: str | None,
              node_attributes: Mapping[str, str] | None,
              node_priorities: Mapping[str, int] | None, target_lost: bool) -> None:
        outcome: FenceOutcome | None = None
        try:
            with self._slots:
                outcome = fence_node(config, target, self.runner, action=action,
                                     node_attributes=node_attributes,
                                     node_priorities=node_priorities, target_lost=target_lost)
        except Exception as error:  # noqa: BLE001 - a bug must still produce an answer
            outcome = failed_outcome(target, action or "reboot",
                                     f"fencing {target} crashed: {type(error).__name__}: "
                                     f"{error}")
        finally:
            with self._lock:
                self._running.pop(target, None)
                self._idle.notify_all()
        self.on_done(outcome)

    def in_flight(self) -> dict[str, str]:
        """target -> requested action ("default": stonith-action) of running requests."""
        with self._lock:
            return dict(self._running)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request runs; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return True


# ---------------------------------------------------------------- the watchdog, daemon side

WATCHDOG_PROGRAM = REPOSITORY_ROOT / "fencing" / "raftha-watchdog"
WATCHDOG_FIFO_NAME = "pet.fifo"
WATCHDOG_REGISTRY_NAME = "process-groups"
WATCHDOG_PID_NAME = "watchdog.pid"
WATCHDOG_FIRED_NAME = "fired"
WATCHDOG_LOG_NAME = "watchdog.log"
WATCHDOG_START_TIMEOUT_MS = 10_000
WATCHDOG_DIRECTORY_NAME = "watchdog"
# The registered start time of a group whose leader had exited when it was registered.
LEADERLESS = "leaderless"


def watchdog_directory(data_dir: str | os.PathLike[str]) -> Path:
    """Where a node's watchdog files live: DATA_DIR/watchdog (fence_raftha_sandbox reads the
    process-group registry there)."""
    return Path(data_dir) / WATCHDOG_DIRECTORY_NAME


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot); None if gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


@dataclass(frozen=True)
class RegisteredGroup:
    pgid: int
    leader_start_time: str
    label: str


class ProcessGroupRegistry:
    """The executor's list of resource process groups, read by the watchdog when it fires
    and by fence_raftha_sandbox on `off`. Thread-safe; every change rewrites the file
    atomically so a reader never sees half of it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def entries(self) -> list[RegisteredGroup]:
        return read_process_group_registry(self.path)

    def add(self, pgid: int, label: str) -> bool:
        """Register a resource's process group; False if nothing of it runs any more.

        The executor registers the group its agent led once the start returns: by then the
        agent (the leader) has usually exited and only what it started is left. Such a
        group is registered with LEADERLESS as the leader's start time: Linux never hands
        out a number still in use as a process group id, so while the group has members no
        process can have that pid, and a process that has it later (the number reused once
        the group is empty) never matches LEADERLESS, so it is never killed. Groups with no
        member left are dropped from the registry on the way."""
        if pgid <= 1:
            return False
        start = process_start_time(pgid)
        if start is None:
            if not process_group_exists(pgid):
                return False
            start = LEADERLESS
        label = re.sub(r"\s+", "_", label) or "-"
        with self._lock:
            kept = [entry for entry in self.entries()
                    if entry.pgid != pgid and process_group_exists(entry.pgid)]
            kept.append(RegisteredGroup(pgid, start, label))
            self._write(kept)
        return True

    def remove(self, pgid: int) -> None:
        with self._lock:
            self._write([entry for entry in self.entries() if entry.pgid != pgid])

    def remove_label(self, label: str) -> None:
        """Forget every group of one resource (it was stopped)."""
        label = re.sub(r"\s+", "_", label) or "-"
        with self._lock:
            self._write([entry for entry in self.entries() if entry.label != label])

    def _write(self, entries: list[RegisteredGroup]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(f"{entry.pgid} {entry.leader_start_time} {entry.label}\n"
                                     for entry in entries))
        os.replace(temporary, self.path)


def read_process_group_registry(path: str | os.PathLike[str]) -> list[RegisteredGroup]:
    """Entries of a registry file (missing file: none); malformed lines are skipped."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#") or not fields[0].isdigit():
            continue
        if int(fields[0]) > 1:
            entries.append(RegisteredGroup(int(fields[0]), fields[1],
                                           fields[2] if len(fields) > 2 else ""))
    return entries


def kill_registered_groups(entries: Iterable[RegisteredGroup]) -> list[int]:
    """SIGKILL each registered group unless its number now belongs to another process;
    returns the groups signalled."""
    signalled = []
    for entry in entries:
        current = process_start_time(entry.pgid)
        if current is not None and current != entry.leader_start_time:
            continue
        try:
            os.killpg(entry.pgid, signal.SIGKILL)
            signalled.append(entry.pgid)
        except (ProcessLookupError, PermissionError):
            pass
    return signalled


# How a daemon that fenced itself ends (EX_TEMPFAIL): whoever supervises it sees why.
SELF_FENCE_EXIT_STATUS = 75


def fence_this_node(registry_path: str | os.PathLike[str] | None,
                    exit_process: Callable[[int], Any]) -> None:
    """Fence this node the way its watchdog would: SIGKILL every resource process group the
    registry at `registry_path` lists (nothing is stopped cleanly), then end the daemon
    with `SELF_FENCE_EXIT_STATUS`. Used by no-quorum-policy=suicide (executor) and by the
    lease guard when the lease expired under the suicide/fence policy."""
    if registry_path is not None:
        kill_registered_groups(read_process_group_registry(registry_path))
    exit_process(SELF_FENCE_EXIT_STATUS)


class WatchdogClient:
    """Pets the watchdog serving `directory`. Each call is one atomic FIFO write."""

    def __init__(self, directory: str | os.PathLike[str], daemon_pid: int | None = None) -> None:
        self.directory = Path(directory)
        self.daemon_pid = daemon_pid if daemon_pid is not None else os.getpid()

    @property
    def registry(self) -> ProcessGroupRegistry:
        return ProcessGroupRegistry(self.directory / WATCHDOG_REGISTRY_NAME)

    def pet(self) -> bool:
        """Restart the countdown (arms a disarmed watchdog); False if none is listening."""
        return self._send(f"PET {self.daemon_pid}\n")

    def disarm(self) -> bool:
        """Orderly stop: the watchdog stops counting and exits once the daemon is gone."""
        return self._send(f"DISARM {self.daemon_pid}\n")

    def _send(self, line: str) -> bool:
        try:
            descriptor = os.open(self.directory / WATCHDOG_FIFO_NAME,
                                 os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno in (errno.ENXIO, errno.ENOENT):
                return False
            raise
        try:
            os.write(descriptor, line.encode("ascii"))
            return True
        except BlockingIOError:
            return True   # the pipe is full of earlier pets: the watchdog is behind, not gone
        finally:
            os.close(descriptor)

    def running_pid(self) -> int | None:
        """The pid of the live watchdog serving this directory, if any."""
        try:
            pid = int((self.directory / WATCHDOG_PID_NAME).read_text().split()[0])
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        if b"raftha-watchdog" not in command_line or process_start_time(pid) is None:
            return None
        return pid


def start_watchdog(directory: str | os.PathLike[str], timeout_ms: int, daemon_pid: int, *,
                   kill_wait_ms: int = 5000, python: str = sys.executable,
                   program: Path = WATCHDOG_PROGRAM,
                   environment_marker: str | None = None) -> int:
    """Start the watchdog for `directory` in its own session (or reuse the live one) and
    wait until it listens; returns its pid. It starts disarmed: the first pet arms it."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    client = WatchdogClient(folder, daemon_pid)
    existing = client.running_pid()
    if existing is not None:
        return existing
    with open(folder / WATCHDOG_LOG_NAME, "ab") as log:
        child = subprocess.Popen(
            [python, "-I", str(program), "--dir", str(folder), "--timeout-ms", str(timeout_ms),
             "--daemon-pid", str(daemon_pid), "--kill-wait-ms", str(kill_wait_ms),
             *(["--environment-marker", environment_marker] if environment_marker else [])],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, cwd="/")
    deadline = time.monotonic() + WATCHDOG_START_TIMEOUT_MS / 1000.0
    while time.monotonic() < deadline:
        if client.running_pid() == child.pid:
            return child.pid
        if child.poll() is not None:
            raise RuntimeError(f"raftha-watchdog exited with {child.returncode} at start; "
                               f"see {folder / WATCHDOG_LOG_NAME}")
        time.sleep(0.02)
    child.kill()
    child.wait()
    raise RuntimeError(f"raftha-watchdog did not start listening within "
                       f"{WATCHDOG_START_TIMEOUT_MS} ms")


# ---------------------------------------------------------------- the lease


class Lease:
    """A node's lease (research/jepsen-cts.md 4.4), on an injectable monotonic clock.

    Call `heartbeat_sent()` just BEFORE proposing heartbeat k and keep the returned send
    time; when that heartbeat is known committed call `heartbeat_committed(send_time)`. The
    lease is then valid until send_time + lease_ms: measured from the send, never from the
    commit notification, so a slow commit cannot stretch it.
    """

    def __init__(self, lease_ms: int, monotonic: Callable[[], float] = clock.monotonic) -> None:
        if lease_ms <= 0:
            raise ValueError("lease_ms must be positive")
        self.lease_ms = lease_ms
        self.monotonic = monotonic
        self.valid_until: float | None = None

    def heartbeat_sent(self) -> float:
        return self.monotonic()

    def heartbeat_committed(self, send_time: float) -> None:
        expiry = send_time + self.lease_ms / 1000.0
        if self.valid_until is None or expiry > self.valid_until:
            self.valid_until = expiry

    def revoke(self) -> None:
        """Give the lease up at once (orderly shutdown, or quorum known lost)."""
        self.valid_until = None

    def valid(self) -> bool:
        return self.valid_until is not None and self.monotonic() < self.valid_until

    def remaining_ms(self) -> int:
        if self.valid_until is None:
            return 0
        return max(0, int((self.valid_until - self.monotonic()) * 1000))


class LeaseGuard:
    """Pets the watchdog only while the lease is valid. The daemon calls `tick()` at least
    three times per watchdog timeout from a thread that does nothing slow; when the lease
    lapses, `tick()` returns False and stops petting, so the watchdog fires WD later
    unless the daemon has stopped its resources and called `stand_down()` first."""

    def __init__(self, lease: Lease, watchdog: WatchdogClient) -> None:
        self.lease = lease
        self.watchdog = watchdog
        self.watchdog_listening = True

    def tick(self) -> bool:
        if not self.lease.valid():
            return False
        self.watchdog_listening = self.watchdog.pet()
        return True

    def stand_down(self) -> None:
        """Every resource is stopped and unregistered: disarm (orderly)."""
        self.lease.revoke()
        self.watchdog.disarm()
