"""Shared scaffolding of raftha's own fence agents (fence_raftha_sandbox, fence_raftha_netns).

Role: the fence-agent contract that every agent must honour identically, so each agent file
only says how to power its kind of node off, on, and how to read its state.

Contract (research/ocf-fence-cli.md section 2; fence-agents' FenceAgentAPI):
- Options come from the command line when there are arguments (`-o ACTION`, `-n PLUG`,
  `--action=ACTION`, `--plug=PLUG`, `--NAME=VALUE` or `--NAME VALUE` for any declared
  parameter), else from stdin as `name=value` lines (`#` lines ignored, last value wins,
  surrounding double quotes stripped, `-` and `_` in names equivalent, `option=` is the old
  spelling of `action=`). Unknown names are ignored with a warning on stderr.
- The target is `port`, else `plug`, else `nodename`.
- Exit codes: 0 success; 1 failure; for `status` 0 = on, 2 = off, 1 = unknown. `metadata`
  prints XML that validates against fence-agents' metadata.rng.
- `reboot` is off then on; its success is decided by off (the on result is reported).
- No options at all (empty stdin, no arguments) is a failure, never the default action:
  the fencer starts agents ahead of need, and one whose fencer died sees stdin close empty.

Invariants: an agent never raises out of `run_agent`: every problem is one "Failed: ..."
line on stderr and exit 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

EXIT_OK, EXIT_FAILED, EXIT_OFF = 0, 1, 2
STANDARD_ACTIONS = ("on", "off", "reboot", "status", "list", "list-status", "monitor",
                    "metadata", "validate-all")


class AgentFailure(Exception):
    """A failure to report as one "Failed: ..." line and exit 1."""


@dataclass(frozen=True)
class Parameter:
    name: str
    shortdesc: str
    content_type: str = "string"       # string | boolean | integer | second
    default: str | None = None
    required: bool = False
    getopt: str = ""
    deprecated: bool = False
    obsoletes: str = ""


def standard_parameters() -> list[Parameter]:
    return [
        Parameter("action", "Fencing action", default="reboot", required=True,
                  getopt="-o, --action=[action]"),
        Parameter("plug", "Node to fence (its name, or its pcmk_host_map value)",
                  getopt="-n, --plug=[id]", obsoletes="port"),
        Parameter("port", "Node to fence (old name of plug)", getopt="-n, --plug=[id]",
                  deprecated=True),
        Parameter("nodename", "Cluster node name of the target (sent by the fencer)",
                  getopt="--nodename=[name]"),
        Parameter("power_timeout", "Seconds to wait for the node to reach the new state",
                  content_type="second", default="20", getopt="--power-timeout=[seconds]"),
    ]


def metadata_xml(name: str, shortdesc: str, longdesc: str,
                 parameters: Sequence[Parameter], actions: Sequence[str]) -> str:
    """Meta-data in the shape fence-agents' metadata.rng accepts."""
    lines = ['<?xml version="1.0" ?>',
             f"<resource-agent name={quoteattr(name)} shortdesc={quoteattr(shortdesc)} >",
             f"<longdesc>{_text(longdesc)}</longdesc>",
             "<vendor-url>https://github.com/ClusterLabs/fence-agents</vendor-url>",
             "<parameters>"]
    for parameter in parameters:
        flags = (f'unique="0" required="{int(parameter.required)}"'
                 + (' deprecated="1"' if parameter.deprecated else "")
                 + (f" obsoletes={quoteattr(parameter.obsoletes)}" if parameter.obsoletes
                    else ""))
        getopt = parameter.getopt or f"--{parameter.name.replace('_', '-')}=[value]"
        default = (f" default={quoteattr(parameter.default)}" if parameter.default is not None
                   else "")
        lines += [f"\t<parameter name={quoteattr(parameter.name)} {flags}>",
                  f"\t\t<getopt mixed={quoteattr(getopt)} />",
                  f"\t\t<content type={quoteattr(parameter.content_type)}{default} />",
                  f'\t\t<shortdesc lang="en">{_text(parameter.shortdesc)}</shortdesc>',
                  "\t</parameter>"]
    lines += ["</parameters>", "<actions>"]
    for action in actions:
        extra = ' automatic="0"' if action == "on" else ""
        lines.append(f"\t<action name={quoteattr(action)}{extra} />")
    lines += ["</actions>", "</resource-agent>"]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def normalise_name(name: str) -> str:
    name = name.strip().replace("-", "_")
    return "action" if name == "option" else name


def parse_stdin(text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            sys.stderr.write(f"Parse error: Ignoring line without '=': {line[:80]!r}\n")
            continue
        name, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        options[normalise_name(name)] = value
    return options


def parse_argv(argv: Sequence[str], known: set[str]) -> dict[str, str]:
    short = {"-o": "action", "-n": "plug"}
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in short:
            if index + 1 >= len(argv):
                raise AgentFailure(f"option {word} needs a value")
            options[short[word]] = argv[index + 1]
            index += 2
            continue
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
            name = normalise_name(name)
            if not has_value:
                if name in known and index + 1 < len(argv) and not argv[index + 1].startswith(
                        "-"):
                    value = argv[index + 1]
                    index += 1
                else:
                    value = "1"
            options[name] = value
            index += 1
            continue
        raise AgentFailure(f"unexpected argument {word!r}")
    return options


def read_options(argv: Sequence[str], known: set[str], stdin_reader: Callable[[], str]
                 ) -> dict[str, str]:
    options = parse_argv(argv, known) if argv else parse_stdin(stdin_reader())
    if not options:
        # A fencer may start an agent ahead of need; if it dies, stdin closes empty: that
        # is no request at all, never a default action.
        raise AgentFailure("no options given (stdin was empty)")
    for name in options:
        if name not in known:
            sys.stderr.write(f"Parse error: Ignoring unknown option '{name}'\n")
    return options


def target_of(options: dict[str, str]) -> str:
    for name in ("port", "plug", "nodename"):
        value = options.get(name, "").strip()
        if value:
            return value
    raise AgentFailure("no target: give port=, plug= or nodename=")


def seconds_option(options: dict[str, str], name: str, default: float) -> float:
    text = options.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise AgentFailure(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value <= 3600:
        raise AgentFailure(f"{name} must be within (0, 3600] seconds, not {text!r}")
    return value


class FenceAgent:
    """Base of our agents: subclasses give the parameters and the power operations."""

    name = "fence_raftha"
    shortdesc = ""
    longdesc = ""
    actions = STANDARD_ACTIONS

    def parameters(self) -> list[Parameter]:
        return standard_parameters()

    # Subclasses implement these; `target` is the node named by port/plug/nodename.
    def power_off(self, options: dict[str, str], target: str) -> str:
        raise NotImplementedError

    def power_on(self, options: dict[str, str], target: str) -> str:
        raise NotImplementedError

    def is_on(self, options: dict[str, str], target: str) -> bool:
        raise NotImplementedError

    def targets(self, options: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def validate(self, options: dict[str, str]) -> None:
        """Raise AgentFailure when the device parameters are unusable."""

    def metadata(self) -> str:
        return metadata_xml(self.name, self.shortdesc, self.longdesc, self.parameters(),
                            self.actions)

    def dispatch(self, options: dict[str, str]) -> int:
        action = options.get("action", "reboot").strip()
        if action in ("metadata", "meta_data", "meta-data"):
            sys.stdout.write(self.metadata())
            return EXIT_OK
        if action not in self.actions:
            raise AgentFailure(f"Unrecognised action '{action}'")
        self.validate(options)
        if action == "validate-all":
            return EXIT_OK
        if action == "monitor":
            self.targets(options)
            return EXIT_OK
        if action in ("list", "list-status"):
            for name in self.targets(options):
                if action == "list":
                    print(f"{name},{name}")
                else:
                    state = "on" if self.is_on(options, name) else "off"
                    print(f"{name},{name},{state}")
            return EXIT_OK
        target = target_of(options)
        if action == "status":
            on = self.is_on(options, target)
            print(f"Status: {'ON' if on else 'OFF'}")
            return EXIT_OK if on else EXIT_OFF
        if action == "off":
            print(f"Success: {self.power_off(options, target)}")
            return EXIT_OK
        if action == "on":
            print(f"Success: {self.power_on(options, target)}")
            return EXIT_OK
        # reboot: off decides; a failed on is reported but the node is fenced
        print(f"Success: {self.power_off(options, target)}")
        try:
            print(f"Success: {self.power_on(options, target)}")
        except AgentFailure as error:
            sys.stderr.write(f"Warning: power on after reboot failed: {error}\n")
        return EXIT_OK


def run_agent(agent: FenceAgent, argv: Sequence[str] | None = None) -> int:
    """Parse options, dispatch, map every failure to one line and exit code 1."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    known = {parameter.name for parameter in agent.parameters()}
    try:
        options = read_options(arguments, known, sys.stdin.read)
        return agent.dispatch(options)
    except AgentFailure as error:
        sys.stderr.write(f"Failed: {error}\n")
        return EXIT_FAILED
    except Exception as error:  # noqa: BLE001 - an agent must answer, never trace back
        sys.stderr.write(f"Failed: {type(error).__name__}: {error}\n")
        return EXIT_FAILED


# ---------------------------------------------------------------- /proc helpers


def proc_entries() -> list[tuple[int, int, int, str]]:
    """(pid, ppid, pgid, state) of every process, read from /proc once."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                text = handle.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) >= 3:
            found.append((int(entry), int(fields[1]), int(fields[2]), fields[0]))
    return found


def descendants(root_pid: int, entries: list[tuple[int, int, int, str]]) -> list[int]:
    """Every live descendant of root_pid (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for pid, parent, _group, _state in entries:
        children.setdefault(parent, []).append(pid)
    found, queue = [], [root_pid]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.append(child)
                queue.append(child)
    return found


def live_members(groups: set[int], pids: set[int]) -> list[int]:
    """Processes (not zombies) that are in one of `groups` or are one of `pids`."""
    return [pid for pid, _parent, group, state in proc_entries()
            if state != "Z" and (group in groups or pid in pids)]
