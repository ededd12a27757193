"""AgentRunner: run OCF, LSB and systemd resource agents on this node (the exec edge).

Role: resolve an AgentSpec to something executable, build the contract environment, run the
action with a deadline and bounded capture, map the exit status to OCF, and parse/cache
meta-data. Scheduling of recurring monitors lives in the daemon; this module answers one
call with one AgentResult.

Invariants: run() never raises for anything an agent does (missing agent, timeout, garbage
output, bad parameters all come back as an AgentResult with a status and a one-line
exit_reason); a timed-out agent's whole process group is killed before run() returns;
meta-data is cached per (agent path, mtime, size); the runner is safe to use from several
threads at once.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from raftha.agents.codes import ExecStatus, lsb_to_ocf
from raftha.agents.environment import (
    AgentEnvironmentError,
    ocf_environment,
    plain_environment,
)
from raftha.agents.metadata import AgentMetadata, MetadataError, parse_metadata
from raftha.agents.process import ProcessOutcome, run_process
from raftha.agents.spec import AgentResult, AgentSpec, failed_result

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OCF_ROOT = Path("/usr/lib/ocf")
DEFAULT_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Pacemaker 2.1.5's feature set: agents (ocf_promotion_score) pick crm_attribute -p from it.
DEFAULT_FEATURE_SET = "3.16.2"
SYSTEMD_NOT_RUNNING = "systemd is not running on this node"
_ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
_LSB_ACTIONS = ("start", "stop", "status", "restart", "force-reload", "reload")
_SYSTEMD_SUFFIXES = (".service", ".socket", ".mount", ".timer", ".path")


def _default_search_path() -> tuple[Path, ...]:
    """Our own agents first (agents/ocf/PROVIDER/TYPE), then the installed ones."""
    own = REPOSITORY_ROOT / "agents" / "ocf"
    return (own, DEFAULT_OCF_ROOT / "resource.d") if own.is_dir() else (
        DEFAULT_OCF_ROOT / "resource.d",)


def _default_shims_dir() -> Path | None:
    return REPOSITORY_ROOT / "agents" / "shims"


def systemd_booted() -> bool:
    """True when systemd is PID 1 (sd_booted(): /run/systemd/system exists)."""
    return Path("/run/systemd/system").is_dir()


@dataclass(frozen=True)
class AgentRunnerSettings:
    """Where agents live and the limits every run obeys."""

    ocf_root: Path = DEFAULT_OCF_ROOT
    ocf_search_path: tuple[Path, ...] = field(default_factory=_default_search_path)
    lsb_directory: Path = Path("/etc/init.d")
    shims_dir: Path | None = field(default_factory=_default_shims_dir)
    # Debian agents call ${HA_SBIN_DIR}/crm_attribute etc. by absolute path: point it at the
    # shims so those calls reach raftha, not Pacemaker's binaries.
    shims_as_sbin_dir: bool = True
    base_path: str = DEFAULT_BASE_PATH
    kill_grace_ms: int = 2000
    drain_ms: int = 200
    stdout_limit_bytes: int = 1024 * 1024
    stderr_limit_bytes: int = 64 * 1024
    output_tail_bytes: int = 4096
    metadata_timeout_ms: int = 10_000
    log_file: str = ""            # HA_LOGFILE; empty: agents log to stderr (captured)
    debug_log_file: str = ""      # HA_DEBUGLOG
    debug: bool = False           # HA_debug
    resource_tmp_dir: str = ""    # HA_RSCTMP override (default /run/resource-agents)
    varrun_dir: str = ""          # HA_VARRUN override (default /var/run)
    feature_set: str = DEFAULT_FEATURE_SET
    systemd_running: bool | None = None   # None: detect on each call
    systemctl_command: str = "systemctl"
    systemd_dropin_dir: Path = Path("/run/systemd/system")
    systemd_poll_ms: int = 500
    # Added to every agent's environment (e.g. RAFTHA_SOCKET so the shims find the daemon);
    # a call's environment_extra wins over it.
    common_environment: dict[str, str] = field(default_factory=dict)


class AgentRunner:
    """Runs agent actions; one instance per node process, shared by all executor threads."""

    def __init__(self, settings: AgentRunnerSettings | None = None) -> None:
        self.settings = settings or AgentRunnerSettings()
        self._metadata_cache: dict[tuple[str, int, int], AgentMetadata] = {}
        self._metadata_lock = threading.Lock()

    # ----- resolution ---------------------------------------------------------------------

    def resolve(self, spec: AgentSpec) -> tuple[str, Path | None, str]:
        """(effective standard, executable path or None, reason when unavailable)."""
        if spec.standard == "ocf":
            for directory in self.settings.ocf_search_path:
                candidate = Path(directory) / spec.provider / spec.agent_type
                if candidate.is_file():
                    if not os.access(candidate, os.X_OK):
                        return "ocf", None, f"agent {candidate} is not executable"
                    return "ocf", candidate, ""
            return "ocf", None, f"agent {spec} is not installed on this node"
        if spec.standard == "lsb":
            script = self._lsb_path(spec.agent_type)
            if script.is_file() and os.access(script, os.X_OK):
                return "lsb", script, ""
            return "lsb", None, f"init script {script} is not installed on this node"
        if spec.standard == "service":
            script = self._lsb_path(spec.agent_type)
            if script.is_file() and os.access(script, os.X_OK):
                return "lsb", script, ""
            return self.resolve(AgentSpec("systemd", spec.agent_type, "", spec.resource_id))
        if not self._systemd_running():
            return "systemd", None, SYSTEMD_NOT_RUNNING
        return "systemd", None, ""

    def _lsb_path(self, name: str) -> Path:
        return Path(name) if name.startswith("/") else self.settings.lsb_directory / name

    def _systemd_running(self) -> bool:
        if self.settings.systemd_running is not None:
            return self.settings.systemd_running
        return systemd_booted()

    def available(self, spec: AgentSpec) -> str:
        """Empty string if the agent can run here, else the one-line reason it cannot."""
        return self.resolve(spec)[2]

    # ----- running ------------------------------------------------------------------------

    def run(
        self,
        spec: AgentSpec,
        action: str,
        *,
        params: dict[str, str] | None = None,
        meta: dict[str, str] | None = None,
        timeout_ms: int,
        interval_ms: int = 0,
        node_name: str,
        environment_extra: dict[str, str] | None = None,
    ) -> AgentResult:
        """Run one action and wait for it (at most timeout + kill grace + drain)."""
        if not _ACTION_PATTERN.match(action or ""):
            return failed_result(ExecStatus.ERROR, f"invalid action name {action!r}", action,
                                 interval_ms)
        if timeout_ms <= 0:
            return failed_result(ExecStatus.ERROR, f"timeout_ms must be positive, not "
                                 f"{timeout_ms}", action, interval_ms)
        standard, path, reason = self.resolve(spec)
        if reason:
            return failed_result(ExecStatus.NOT_INSTALLED, reason, action, interval_ms)
        if standard == "ocf":
            assert path is not None
            return self._run_ocf(spec, path, action, params or {}, meta or {}, timeout_ms,
                                 interval_ms, node_name, environment_extra)
        if standard == "lsb":
            assert path is not None
            return self._run_lsb(path, action, timeout_ms, interval_ms, environment_extra)
        return self._run_systemd(spec, action, timeout_ms, interval_ms, environment_extra)

    def probe(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
              meta: dict[str, str] | None = None, timeout_ms: int, node_name: str,
              environment_extra: dict[str, str] | None = None) -> AgentResult:
        """A probe: monitor with interval 0 (expected result 7 when not running here)."""
        return self.run(spec, "monitor", params=params, meta=meta, timeout_ms=timeout_ms,
                        interval_ms=0, node_name=node_name,
                        environment_extra=environment_extra)

    def monitor(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
                meta: dict[str, str] | None = None, timeout_ms: int, interval_ms: int,
                node_name: str, role: str = "",
                environment_extra: dict[str, str] | None = None) -> AgentResult:
        """One run of a recurring monitor (the daemon owns the schedule)."""
        if interval_ms <= 0:
            return failed_result(ExecStatus.ERROR, "a recurring monitor needs interval_ms > 0",
                                 "monitor", interval_ms)
        full_meta = dict(meta or {})
        if role:
            full_meta["role"] = role
        return self.run(spec, "monitor", params=params, meta=full_meta, timeout_ms=timeout_ms,
                        interval_ms=interval_ms, node_name=node_name,
                        environment_extra=environment_extra)

    def validate(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
                 meta: dict[str, str] | None = None, timeout_ms: int,
                 node_name: str) -> AgentResult:
        """validate-all with these parameters (0 ok, 2 invalid here, 6 invalid anywhere)."""
        return self.run(spec, "validate-all", params=params, meta=meta, timeout_ms=timeout_ms,
                        node_name=node_name)

    def reload(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
               meta: dict[str, str] | None = None, timeout_ms: int,
               node_name: str) -> AgentResult:
        """reload-agent (OCF >= 1.1) or reload (legacy), whichever the agent advertises."""
        try:
            metadata = self.metadata(spec, node_name=node_name)
        except MetadataError as error:
            return failed_result(ExecStatus.ERROR, str(error), "reload")
        action = metadata.reload_action()
        if action is None:
            return failed_result(ExecStatus.NOT_SUPPORTED,
                                 f"agent {spec} advertises no reload action", "reload")
        return self.run(spec, action, params=params, meta=meta, timeout_ms=timeout_ms,
                        node_name=node_name)

    # ----- meta-data ----------------------------------------------------------------------

    def metadata(self, spec: AgentSpec, *, node_name: str = "") -> AgentMetadata:
        """Parsed meta-data, cached per agent path and mtime; raises MetadataError."""
        standard, path, reason = self.resolve(spec)
        if reason:
            raise MetadataError(reason)
        if standard == "systemd":
            return parse_metadata(_systemd_metadata_xml(spec.agent_type))
        assert path is not None
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._metadata_lock:
            cached = self._metadata_cache.get(key)
        if cached is not None:
            return cached
        if standard == "lsb":
            parsed = parse_metadata(_lsb_metadata_xml(path))
        else:
            result = self.run(spec.with_resource(spec.resource_id or "metadata"), "meta-data",
                              timeout_ms=self.settings.metadata_timeout_ms,
                              node_name=node_name or "localhost")
            if not result.ok:
                raise MetadataError(
                    f"meta-data of {spec} failed: rc {result.rc} ({result.status.value})"
                    + (f": {result.exit_reason}" if result.exit_reason else ""))
            parsed = parse_metadata(result.stdout)
        with self._metadata_lock:
            self._metadata_cache[key] = parsed
        return parsed

    # ----- listings (crm ra list / crm_resource --list-agents) ----------------------------

    def list_providers(self) -> list[str]:
        providers: set[str] = set()
        for directory in self.settings.ocf_search_path:
            if Path(directory).is_dir():
                providers.update(entry.name for entry in Path(directory).iterdir()
                                 if entry.is_dir() and not entry.name.startswith("."))
        return sorted(providers)

    def list_ocf_agents(self, provider: str) -> list[str]:
        agents: set[str] = set()
        for directory in self.settings.ocf_search_path:
            base = Path(directory) / provider
            if base.is_dir():
                agents.update(entry.name for entry in base.iterdir()
                              if entry.is_file() and not entry.name.startswith(".")
                              and os.access(entry, os.X_OK))
        return sorted(agents)

    def list_lsb_scripts(self) -> list[str]:
        base = self.settings.lsb_directory
        if not base.is_dir():
            return []
        return sorted(entry.name for entry in base.iterdir()
                      if entry.is_file() and os.access(entry, os.X_OK))

    # ----- class-specific execution -------------------------------------------------------

    def _path_variable(self) -> str:
        shims = self.settings.shims_dir
        if shims is not None:
            return f"{shims}:{self.settings.base_path}"
        return self.settings.base_path

    def _logging_environment(self) -> dict[str, str]:
        settings = self.settings
        logging = {
            "HA_LOGD": "no",
            # 'none' makes ocf_log write to HA_LOGFILE, or to stderr when no file is set.
            "HA_LOGFACILITY": "none",
            "HA_debug": "1" if settings.debug else "0",
            "PCMK_service": "raftha-executor",
        }
        if settings.log_file:
            logging["HA_LOGFILE"] = settings.log_file
            logging["PCMK_logfile"] = settings.log_file
        if settings.debug_log_file:
            logging["HA_DEBUGLOG"] = settings.debug_log_file
        if settings.resource_tmp_dir:
            logging["HA_RSCTMP"] = settings.resource_tmp_dir
        if settings.varrun_dir:
            logging["HA_VARRUN"] = settings.varrun_dir
        shims = settings.shims_dir
        if settings.shims_as_sbin_dir and shims is not None and Path(shims).is_dir():
            logging["HA_SBIN_DIR"] = str(shims)
        return logging

    def _run_ocf(self, spec: AgentSpec, path: Path, action: str, params: dict[str, str],
                 meta: dict[str, str], timeout_ms: int, interval_ms: int, node_name: str,
                 extra: dict[str, str] | None) -> AgentResult:
        try:
            environment = ocf_environment(
                ocf_root=str(self.settings.ocf_root),
                resource_id=spec.resource_id or spec.agent_type,
                agent_type=spec.agent_type,
                provider=spec.provider,
                action=action,
                params=params,
                meta=meta,
                timeout_ms=timeout_ms,
                interval_ms=interval_ms,
                node_name=node_name,
                path=self._path_variable(),
                logging=self._logging_environment(),
                feature_set=self.settings.feature_set,
                extra={**self.settings.common_environment, **(extra or {})},
            )
        except AgentEnvironmentError as error:
            return failed_result(ExecStatus.ERROR, str(error), action, interval_ms)
        outcome = self._execute([str(path), action], environment, timeout_ms)
        return self._result_from(outcome, action, interval_ms, rc_map=None)

    def _run_lsb(self, path: Path, action: str, timeout_ms: int, interval_ms: int,
                 extra: dict[str, str] | None) -> AgentResult:
        if action == "meta-data":
            xml = _lsb_metadata_xml(path)
            return AgentResult(0, ExecStatus.DONE, "", "", 0, False, action, interval_ms,
                               stdout=xml)
        if action == "validate-all":
            return AgentResult(0, ExecStatus.DONE, "", "", 0, False, action, interval_ms)
        script_action = "status" if action == "monitor" else action
        if script_action not in _LSB_ACTIONS:
            return failed_result(ExecStatus.NOT_SUPPORTED,
                                 f"LSB scripts have no {action!r} action", action, interval_ms)
        environment = plain_environment(self._path_variable(),
                                        {**self.settings.common_environment, **(extra or {})})
        outcome = self._execute([str(path), script_action], environment, timeout_ms)
        return self._result_from(outcome, action, interval_ms,
                                 rc_map=lambda rc: lsb_to_ocf(script_action, rc))

    def _execute(self, argv: list[str], environment: dict[str, str],
                 timeout_ms: int) -> ProcessOutcome:
        settings = self.settings
        return run_process(
            argv,
            environment=environment,
            timeout_ms=timeout_ms,
            kill_grace_ms=settings.kill_grace_ms,
            drain_ms=settings.drain_ms,
            stdout_limit_bytes=settings.stdout_limit_bytes,
            stderr_limit_bytes=settings.stderr_limit_bytes,
        )

    def _result_from(self, outcome: ProcessOutcome, action: str, interval_ms: int,
                     rc_map) -> AgentResult:
        if outcome.spawn_error:
            return failed_result(ExecStatus.ERROR, outcome.spawn_error, action, interval_ms,
                                 outcome.duration_ms)
        stdout_text = outcome.stdout.decode("utf-8", "replace")
        stderr_text = outcome.stderr_tail.decode("utf-8", "replace")
        tail = _output_tail(stdout_text, stderr_text, self.settings.output_tail_bytes)
        if outcome.timed_out:
            return AgentResult(1, ExecStatus.TIMED_OUT,
                               outcome.exit_reason or f"{action} timed out",
                               tail, outcome.duration_ms, True, action, interval_ms,
                               stdout=stdout_text, pid=outcome.pid)
        raw_rc = outcome.returncode if outcome.returncode is not None else 1
        if raw_rc < 0:
            # Killed by a signal nobody sent on purpose: a generic error with the reason.
            return AgentResult(1, ExecStatus.DONE,
                               outcome.exit_reason or f"agent killed by signal {-raw_rc}",
                               tail, outcome.duration_ms, False, action, interval_ms,
                               stdout=stdout_text, pid=outcome.pid)
        rc = rc_map(raw_rc) if rc_map else raw_rc
        status = ExecStatus.DONE
        return AgentResult(rc, status, outcome.exit_reason, tail, outcome.duration_ms, False,
                           action, interval_ms, stdout=stdout_text, pid=outcome.pid)

    # ----- systemd ------------------------------------------------------------------------

    def _run_systemd(self, spec: AgentSpec, action: str, timeout_ms: int, interval_ms: int,
                     extra: dict[str, str] | None) -> AgentResult:
        """Drive a unit with systemctl, mapping ActiveState as Pacemaker does."""
        unit = _unit_name(spec.agent_type)
        if action == "meta-data":
            return AgentResult(0, ExecStatus.DONE, "", "", 0, False, action, interval_ms,
                               stdout=_systemd_metadata_xml(unit))
        if action == "validate-all":
            return AgentResult(0, ExecStatus.DONE, "", "", 0, False, action, interval_ms)
        if action not in ("start", "stop", "monitor", "status"):
            return failed_result(ExecStatus.NOT_SUPPORTED,
                                 f"systemd units have no {action!r} action", action, interval_ms)
        if shutil.which(self.settings.systemctl_command) is None:
            return failed_result(ExecStatus.NOT_INSTALLED, "systemctl is not installed",
                                 action, interval_ms)
        started = time.monotonic()
        deadline = started + timeout_ms / 1000.0
        environment = plain_environment(self.settings.base_path, extra)
        load_state = self._systemctl(["show", "-p", "LoadState", "--value", unit],
                                     environment, deadline).stdout.decode().strip()
        if load_state in ("not-found", "") and action != "stop":
            return failed_result(ExecStatus.NOT_INSTALLED,
                                 f"systemd unit {unit} is not installed", action, interval_ms,
                                 _elapsed_ms(started))
        if action == "start":
            self._write_dropin(unit)
            self._systemctl(["daemon-reload"], environment, deadline)
            outcome = self._systemctl(["start", unit], environment, deadline)
            if outcome.timed_out or outcome.returncode != 0:
                return self._systemd_result(outcome, action, interval_ms, started, 1)
            return self._wait_active_state(unit, environment, deadline, started, action,
                                           want_active=True)
        if action == "stop":
            if load_state in ("not-found", ""):
                return AgentResult(0, ExecStatus.DONE, "", "", _elapsed_ms(started), False,
                                   action, interval_ms)
            outcome = self._systemctl(["stop", unit], environment, deadline)
            if outcome.timed_out or outcome.returncode != 0:
                return self._systemd_result(outcome, action, interval_ms, started, 1)
            return self._wait_active_state(unit, environment, deadline, started, action,
                                           want_active=False)
        return self._wait_active_state(unit, environment, deadline, started, action,
                                       want_active=None, interval_ms=interval_ms)

    def _systemctl(self, arguments: list[str], environment: dict[str, str],
                   deadline: float) -> ProcessOutcome:
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        return self._execute([self.settings.systemctl_command, *arguments], environment,
                             remaining_ms)

    def _wait_active_state(self, unit: str, environment: dict[str, str], deadline: float,
                           started: float, action: str, want_active: bool | None,
                           interval_ms: int = 0) -> AgentResult:
        """Poll ActiveState: active/reloading -> 0, (de)activating -> poll, else 7."""
        while True:
            outcome = self._systemctl(["show", "-p", "ActiveState", "--value", unit],
                                      environment, deadline)
            state = outcome.stdout.decode("utf-8", "replace").strip()
            if state in ("active", "reloading"):
                rc = 0 if want_active in (True, None) else 1
                break
            if state not in ("activating", "deactivating"):
                rc = 0 if want_active is False else (7 if want_active is None else 1)
                break
            if time.monotonic() + self.settings.systemd_poll_ms / 1000.0 >= deadline:
                return AgentResult(1, ExecStatus.TIMED_OUT, f"unit {unit} still {state}",
                                   "", _elapsed_ms(started), True, action, interval_ms)
            time.sleep(self.settings.systemd_poll_ms / 1000.0)
        reason = "" if rc in (0, 7) else f"unit {unit} is {state}"
        return AgentResult(rc, ExecStatus.DONE, reason, state, _elapsed_ms(started), False,
                           action, interval_ms)

    def _systemd_result(self, outcome: ProcessOutcome, action: str, interval_ms: int,
                        started: float, rc: int) -> AgentResult:
        stderr_text = outcome.stderr_tail.decode("utf-8", "replace")
        last_line = stderr_text.strip().splitlines()[-1] if stderr_text.strip() else ""
        status = ExecStatus.TIMED_OUT if outcome.timed_out else ExecStatus.DONE
        return AgentResult(rc, status, last_line or f"systemctl {action} failed",
                           stderr_text[-self.settings.output_tail_bytes:],
                           _elapsed_ms(started), outcome.timed_out, action, interval_ms)

    def _write_dropin(self, unit: str) -> None:
        """Order the unit before raftha at shutdown and keep systemd from restarting it."""
        directory = self.settings.systemd_dropin_dir / f"{unit}.d"
        directory.mkdir(parents=True, exist_ok=True)
        lines = ["[Unit]", f"Description=Cluster Controlled {unit}", "Before=raftha.service"]
        if unit.endswith(".service"):
            lines += ["", "[Service]", "Restart=no"]
        (directory / "50-raftha.conf").write_text("\n".join(lines) + "\n")


def _unit_name(name: str) -> str:
    return name if name.endswith(_SYSTEMD_SUFFIXES) else f"{name}.service"


def _output_tail(stdout_text: str, stderr_text: str, limit: int) -> str:
    """Last `limit` characters of stdout and of stderr, stdout first."""
    half = max(limit // 2, 1)
    parts = [text[-half:] for text in (stdout_text, stderr_text) if text]
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts)[-limit:]


def _elapsed_ms(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))


def _xml_escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _lsb_metadata_xml(path: Path) -> str:
    """Meta-data for an init script from its LSB header, like Pacemaker builds it."""
    header: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            in_block = False
            for index, line in enumerate(handle):
                if index > 200:
                    break
                if line.startswith("### BEGIN INIT INFO"):
                    in_block = True
                elif line.startswith("### END INIT INFO"):
                    break
                elif in_block and line.startswith("#") and ":" in line:
                    key, _, value = line[1:].partition(":")
                    header[key.strip()] = value.strip()
    except OSError:
        pass
    name = path.name
    shortdesc = header.get("Short-Description", name)
    longdesc = header.get("Description", shortdesc)
    actions = "".join(f'    <action name="{action}" timeout="15s" />\n'
                      for action in ("start", "stop", "status", "restart", "force-reload"))
    return (f'<?xml version="1.0"?>\n<resource-agent name="{_xml_escape(name)}" '
            f'version="0.1">\n  <version>1.0</version>\n'
            f'  <longdesc lang="en">{_xml_escape(longdesc)}</longdesc>\n'
            f'  <shortdesc lang="en">{_xml_escape(shortdesc)}</shortdesc>\n'
            f'  <parameters/>\n  <actions>\n{actions}'
            f'    <action name="monitor" timeout="15s" interval="15s" />\n'
            f'    <action name="meta-data" timeout="5s" />\n  </actions>\n</resource-agent>\n')


def _systemd_metadata_xml(name: str) -> str:
    unit = _unit_name(name)
    actions = "".join(f'    <action name="{action}" timeout="100s" />\n'
                      for action in ("start", "stop"))
    return (f'<?xml version="1.0"?>\n<resource-agent name="{_xml_escape(unit)}" '
            f'version="0.1">\n  <version>1.1</version>\n'
            f'  <longdesc lang="en">systemd unit file for {_xml_escape(unit)}</longdesc>\n'
            f'  <shortdesc lang="en">systemd unit {_xml_escape(unit)}</shortdesc>\n'
            f'  <parameters/>\n  <actions>\n{actions}'
            f'    <action name="monitor" timeout="100s" interval="60s" />\n'
            f'    <action name="meta-data" timeout="5s" />\n  </actions>\n</resource-agent>\n')
