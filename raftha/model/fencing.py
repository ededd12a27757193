"""Fencing rules as pure data: devices, host checks, topology, delays and the timing rule.

Role: everything the fencer decides that does not need to run anything. The fencer
(raftha/daemon/fencer.py) runs agents and feeds their answers back into these functions;
the scheduler and the daemon's start-up checks use `check_timing`.

Pacemaker semantics kept here (research/ocf-fence-cli.md section 2.5):
- A fence device is a primitive of class "stonith". Attributes starting with `pcmk_` are the
  fencer's own and are never passed to the agent (nor `CRM_meta_*`, `crm_feature_set`,
  `action`); every other instance attribute is.
- `pcmk_host_list` is split like `list` output (whitespace, "," or ";"; each entry cut at its
  first character outside [A-Za-z0-9_.-]); `pcmk_host_map` is "node:port;node2:port2" ("="
  also assigns, ";" space and tab separate entries, a backslash escapes the next character).
- `pcmk_host_check` default: static-list when a list or map is set; else dynamic-list when the
  agent has `list`; else status when it has `status`; else none.
- With a fencing topology for the target, levels run in ascending index and every device of a
  level must succeed; a failed level hands over to the next. Without one, every capable
  device is tried alone, highest `priority` meta attribute first, then document order.
- Delays: `pcmk_delay_base` (plain or per target "node1:0s;node2:5s") plus a random part so
  the total stays within `pcmk_delay_max`; `priority-fencing-delay` applies to a lost target
  holding the strictly highest resource priority.

The timing rule (DESIGN section 7): without a fence device the majority may recover a lost
node's resources only after W >= (1+p)*((L+WD)/(1-p)+K): L lease, WD watchdog timeout,
p clock-rate error, K kill margin. `check_timing` refuses numbers that break it.

Invariants: no I/O, clock or randomness (the random part of a delay comes in as a fraction);
bad configuration raises FencingConfigError with a one-line reason naming the attribute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from raftha.model.config import (
    Clone,
    Configuration,
    FencingLevel,
    Group,
    Pairs,
    Primitive,
    pairs_get,
)

STONITH_CLASS = "stonith"
HOST_CHECK_METHODS = ("static-list", "dynamic-list", "status", "none")
TARGETED_ACTIONS = ("reboot", "off", "on", "status")
OVERRIDABLE_ACTIONS = ("reboot", "off", "on", "list", "monitor", "status")
DEFAULT_ACTION_TIMEOUT_MS = 60_000
DEFAULT_ACTION_RETRIES = 2
MAX_ACTION_RETRIES = 10
MAX_DELAY_MS = 3_600_000
TOPOLOGY_INDEX_RANGE = (1, 9)
_NOT_FOR_AGENT_PREFIXES = ("pcmk_", "CRM_meta_")
_NOT_FOR_AGENT_NAMES = ("crm_feature_set", "action")
_LIST_ENTRY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+")
_LIST_SEPARATORS = re.compile(r"[\s,;]+")
_DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_DURATION_UNITS_MS = {
    "": 1000.0, "s": 1000.0, "sec": 1000.0, "secs": 1000.0, "second": 1000.0,
    "seconds": 1000.0, "ms": 1.0, "msec": 1.0, "msecs": 1.0, "m": 60_000.0,
    "min": 60_000.0, "mins": 60_000.0, "minute": 60_000.0, "minutes": 60_000.0,
    "h": 3_600_000.0, "hr": 3_600_000.0, "hour": 3_600_000.0, "hours": 3_600_000.0,
}


class FencingConfigError(ValueError):
    """Fencing configuration that cannot be used; the message is one line."""


# ---------------------------------------------------------------- parsing helpers


def parse_duration_ms(text: str, what: str) -> int:
    """'5s' -> 5000, '500ms' -> 500, '2min' -> 120000, '3' -> 3000 (a bare number is seconds)."""
    match = _DURATION_PATTERN.match(text or "")
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _DURATION_UNITS_MS:
        raise FencingConfigError(f"{what} must be a time such as 5s or 500ms, not {text!r}")
    return int(round(float(match.group(1)) * _DURATION_UNITS_MS[unit]))


def parse_target_list(text: str) -> tuple[str, ...]:
    """Targets in a host list or in `list` output, split the way Pacemaker's fencer does.

    Lines containing "invalid" or "variable" are agent chatter and skipped; bare "on"/"off"
    words (list-status output) are dropped; duplicates are kept once, in order.
    """
    found: list[str] = []
    for line in text.splitlines():
        lowered = line.lower()
        if "invalid" in lowered or "variable" in lowered:
            continue
        for entry in _LIST_SEPARATORS.split(line):
            match = _LIST_ENTRY_PATTERN.match(entry)
            if not match:
                continue
            name = match.group(0)
            if name.lower() in ("on", "off") or name in found:
                continue
            found.append(name)
    return tuple(found)


def parse_host_map(text: str, what: str = "pcmk_host_map") -> tuple[tuple[str, str], ...]:
    """'node1:1;node2:2,3' -> (("node1", "1"), ("node2", "2,3")); a backslash escapes."""
    entries: list[tuple[str, str]] = []
    name: str | None = None
    current: list[str] = []
    escaped = False
    for character in text + ";":
        if escaped:
            current.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character in "=:" and name is None:
            name = "".join(current).strip()
            current = []
        elif character in "; \t\n":
            if name is not None:
                value = "".join(current)
                if not name or not value:
                    raise FencingConfigError(f"{what} entry {name!r} needs node:value")
                entries.append((name, value))
            elif "".join(current).strip():
                raise FencingConfigError(
                    f"{what} entry {''.join(current)!r} has no ':' (expected node:value)")
            name = None
            current = []
        else:
            current.append(character)
    return tuple(entries)


def _parse_integer(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise FencingConfigError(f"{what} must be an integer, not {text!r}") from None
    if not low <= value <= high:
        raise FencingConfigError(f"{what} must be within {low}..{high}, not {value}")
    return value


# ---------------------------------------------------------------- devices


@dataclass(frozen=True)
class FenceDevice:
    """A configured fence device (a stonith primitive) as the fencer reads it."""

    id: str
    agent: str                                        # e.g. "fence_dummy"
    params: Pairs = ()                                # passed to the agent on stdin
    host_list: tuple[str, ...] = ()
    host_map: tuple[tuple[str, str], ...] = ()        # node -> port/plug value
    host_check: str | None = None                     # explicit pcmk_host_check
    host_argument: str | None = None                  # explicit pcmk_host_argument
    delay_base_ms: int = 0
    delay_base_by_target: tuple[tuple[str, int], ...] = ()
    delay_max_ms: int = 0
    priority: int = 0
    action_overrides: tuple[tuple[str, str], ...] = ()   # pcmk_<action>_action
    action_timeouts_ms: tuple[tuple[str, int], ...] = ()  # pcmk_<action>_timeout
    action_retries: tuple[tuple[str, int], ...] = ()      # pcmk_<action>_retries
    enabled: bool = True                              # target-role=Stopped disables it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "agent": self.agent, "params": [list(p) for p in self.params],
            "host_list": list(self.host_list), "host_map": [list(p) for p in self.host_map],
            "host_check": self.host_check, "host_argument": self.host_argument,
            "delay_base_ms": self.delay_base_ms,
            "delay_base_by_target": [list(p) for p in self.delay_base_by_target],
            "delay_max_ms": self.delay_max_ms, "priority": self.priority,
            "action_overrides": [list(p) for p in self.action_overrides],
            "action_timeouts_ms": [list(p) for p in self.action_timeouts_ms],
            "action_retries": [list(p) for p in self.action_retries],
            "enabled": self.enabled,
        }


def _is_for_agent(name: str) -> bool:
    return not (name.startswith(_NOT_FOR_AGENT_PREFIXES) or name in _NOT_FOR_AGENT_NAMES)


def _parse_delay_base(text: str, device_id: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    what = f"pcmk_delay_base of {device_id}"
    if ":" not in text and "=" not in text:
        return parse_duration_ms(text, what), ()
    per_target = tuple((node, parse_duration_ms(value, f"{what} for {node}"))
                       for node, value in parse_host_map(text, what))
    return 0, per_target


def device_from_primitive(primitive: Primitive) -> FenceDevice:
    """Read one stonith primitive; raises FencingConfigError on a bad pcmk_* attribute."""
    if primitive.agent_class != STONITH_CLASS:
        raise FencingConfigError(f"{primitive.id} is not a fence device (class "
                                 f"{primitive.agent_class!r}, expected stonith)")
    params = primitive.params
    device_id = primitive.id
    host_check = pairs_get(params, "pcmk_host_check")
    if host_check is not None and host_check not in HOST_CHECK_METHODS:
        raise FencingConfigError(
            f"pcmk_host_check of {device_id} must be one of {', '.join(HOST_CHECK_METHODS)}, "
            f"not {host_check!r}")
    delay_base_ms, delay_base_by_target = _parse_delay_base(
        pairs_get(params, "pcmk_delay_base", "0") or "0", device_id)
    delay_max_ms = parse_duration_ms(pairs_get(params, "pcmk_delay_max", "0") or "0",
                                     f"pcmk_delay_max of {device_id}")
    for value in (delay_base_ms, delay_max_ms, *(ms for _, ms in delay_base_by_target)):
        if value > MAX_DELAY_MS:
            raise FencingConfigError(f"delays of {device_id} must not exceed 1h, not {value} ms")
    overrides, timeouts, retries = [], [], []
    for action in OVERRIDABLE_ACTIONS:
        override = pairs_get(params, f"pcmk_{action}_action")
        if override:
            overrides.append((action, override.strip()))
        timeout = pairs_get(params, f"pcmk_{action}_timeout")
        if timeout:
            timeouts.append((action, parse_duration_ms(
                timeout, f"pcmk_{action}_timeout of {device_id}")))
        retry = pairs_get(params, f"pcmk_{action}_retries")
        if retry:
            retries.append((action, _parse_integer(
                retry, f"pcmk_{action}_retries of {device_id}", 0, MAX_ACTION_RETRIES)))
    priority_text = pairs_get(primitive.meta, "priority", "0") or "0"
    return FenceDevice(
        id=device_id,
        agent=primitive.agent_type,
        params=tuple((name, value) for name, value in params if _is_for_agent(name)),
        host_list=parse_target_list(pairs_get(params, "pcmk_host_list", "") or ""),
        host_map=parse_host_map(pairs_get(params, "pcmk_host_map", "") or ""),
        host_check=host_check,
        host_argument=pairs_get(params, "pcmk_host_argument"),
        delay_base_ms=delay_base_ms,
        delay_base_by_target=delay_base_by_target,
        delay_max_ms=delay_max_ms,
        priority=_parse_integer(priority_text, f"priority of {device_id}",
                                -1_000_000, 1_000_000),
        action_overrides=tuple(overrides),
        action_timeouts_ms=tuple(timeouts),
        action_retries=tuple(retries),
        enabled=(pairs_get(primitive.meta, "target-role", "Started") or "").lower() != "stopped",
    )


def devices_from_config(config: Configuration) -> tuple[FenceDevice, ...]:
    """Every stonith primitive of the configuration, in document order."""
    return tuple(device_from_primitive(primitive) for primitive in config.all_primitives()
                 if primitive.agent_class == STONITH_CLASS)


def port_for(device: FenceDevice, target: str) -> str:
    """The value naming `target` to this device: its pcmk_host_map entry or the node name."""
    for node, port in device.host_map:
        if node == target:
            return port
    return target


def host_argument_for(device: FenceDevice, agent_parameters: Iterable[str]) -> str | None:
    """Which stdin key carries the target: pcmk_host_argument, else `port` if the agent's
    meta-data has it, else `plug`, else none ("none" also means none)."""
    if device.host_argument is not None:
        explicit = device.host_argument.strip()
        return None if explicit in ("", "none") else explicit
    parameters = set(agent_parameters)
    for candidate in ("port", "plug"):
        if candidate in parameters:
            return candidate
    return None


def agent_action_for(device: FenceDevice, action: str) -> str:
    """The action sent to the agent (pcmk_<action>_action overrides it)."""
    return dict(device.action_overrides).get(action, action)


def action_timeout_ms(device: FenceDevice, action: str, default_timeout_ms: int) -> int:
    return dict(device.action_timeouts_ms).get(action, default_timeout_ms)


def action_retries(device: FenceDevice, action: str) -> int:
    return dict(device.action_retries).get(action, DEFAULT_ACTION_RETRIES)


# ---------------------------------------------------------------- host checks


@dataclass(frozen=True)
class HostCheckDecision:
    """Whether `device` can fence `target`, how that was decided, and why."""

    device: str
    target: str
    method: str
    can_fence: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "target": self.target, "method": self.method,
                "can_fence": self.can_fence, "reason": self.reason}


def host_check_method(device: FenceDevice, agent_actions: Iterable[str]) -> str:
    """The effective pcmk_host_check (Pacemaker's default when none is configured)."""
    if device.host_check is not None:
        return device.host_check
    if device.host_list or device.host_map:
        return "static-list"
    actions = set(agent_actions)
    if "list" in actions:
        return "dynamic-list"
    if "status" in actions:
        return "status"
    return "none"


def decide_static(device: FenceDevice, target: str) -> HostCheckDecision:
    """static-list: the target must be in pcmk_host_list or pcmk_host_map."""
    listed = target in device.host_list or any(node == target for node, _ in device.host_map)
    reason = (f"{target} is in the host list/map of {device.id}" if listed
              else f"{target} is not in the host list/map of {device.id}")
    return HostCheckDecision(device.id, target, "static-list", listed, reason)


def decide_from_list(device: FenceDevice, target: str, rc: int,
                     list_output: str) -> HostCheckDecision:
    """dynamic-list: the target's port must appear in the agent's `list` output."""
    port = port_for(device, target)
    if rc != 0:
        return HostCheckDecision(device.id, target, "dynamic-list", False,
                                 f"{device.id} list failed (rc {rc})")
    listed = port in parse_target_list(list_output)
    shown = target if port == target else f"{target} (port {port})"
    reason = (f"{shown} is in the list output of {device.id}" if listed
              else f"{shown} is not in the list output of {device.id}")
    return HostCheckDecision(device.id, target, "dynamic-list", listed, reason)


def decide_from_status(device: FenceDevice, target: str, rc: int) -> HostCheckDecision:
    """status: rc 0 (on) or 2 (off) means the device reaches the target; anything else not."""
    reaches = rc in (0, 2)
    state = {0: "on", 2: "off"}.get(rc, f"unknown (rc {rc})")
    reason = (f"{device.id} status for {target}: {state}" if reaches
              else f"{device.id} cannot reach {target}: status rc {rc}")
    return HostCheckDecision(device.id, target, "status", reaches, reason)


def decide_none(device: FenceDevice, target: str) -> HostCheckDecision:
    return HostCheckDecision(device.id, target, "none", True,
                             f"{device.id} has pcmk_host_check=none (fences any node)")


# ---------------------------------------------------------------- delays


def delay_ms(device: FenceDevice, target: str, random_fraction: float) -> tuple[int, str]:
    """pcmk_delay_base (per target if mapped) plus random_fraction (0 <= f < 1) of the room
    left under pcmk_delay_max; returns (milliseconds, explanation)."""
    if not 0.0 <= random_fraction < 1.0:
        raise ValueError(f"random_fraction must be within [0, 1), not {random_fraction}")
    base = dict(device.delay_base_by_target).get(target, device.delay_base_ms)
    room = max(device.delay_max_ms - base, 0)
    random_part = int(room * random_fraction)
    total = base + random_part
    if total == 0:
        return 0, f"{device.id}: no delay"
    return total, (f"{device.id}: delay {total} ms (base {base} ms + random {random_part} ms "
                   f"of max {device.delay_max_ms} ms)")


def priority_fencing_delay_ms(target: str, node_priorities: Mapping[str, int],
                              configured_delay_ms: int, target_lost: bool = True) -> int:
    """priority-fencing-delay: delay fencing a lost node whose resources' total priority is the
    highest, unless every node has the same priority (Pacemaker 2.1 rule)."""
    if configured_delay_ms <= 0 or not target_lost or target not in node_priorities:
        return 0
    values = list(node_priorities.values())
    top, lowest = max(values), min(values)
    if top == lowest or node_priorities[target] < top:
        return 0
    return configured_delay_ms


def resource_priorities(configuration: Configuration) -> dict[str, int]:
    """primitive id -> its `priority` meta attribute as Pacemaker resolves it: the
    primitive's own, else its group's, else its clone's, else an unconditional rsc_defaults
    value; 0 when none is set or the value is not an integer."""
    defaults: dict[str, str] = {}
    for attribute_set in configuration.rsc_defaults:
        if attribute_set.rule is None:
            for name, value in attribute_set.values:
                defaults.setdefault(name, value)

    def first_priority(*metas: tuple[tuple[str, str], ...]) -> int:
        for meta in (*metas, tuple(defaults.items())):
            text = pairs_get(meta, "priority")
            if text is not None:
                try:
                    return int(text.strip())
                except ValueError:
                    return 0
        return 0

    priorities: dict[str, int] = {}
    for resource in configuration.resources:
        clone_meta = resource.meta if isinstance(resource, Clone) else ()
        inner = resource.child if isinstance(resource, Clone) else resource
        if isinstance(inner, Group):
            for member in inner.members:
                priorities[member.id] = first_priority(member.meta, inner.meta, clone_meta)
        elif isinstance(inner, Primitive):
            priorities[inner.id] = first_priority(inner.meta, clone_meta)
    return priorities


def node_priorities(nodes: Iterable[str],
                    active: Iterable[tuple[str, str, str]],
                    priorities: Mapping[str, int]) -> dict[str, int]:
    """Total resource priority per node for priority-fencing-delay (Pacemaker 2.1): the sum
    of the priorities of the resources active on it (`active`: (primitive id, node, role)),
    a promoted instance counting one more. Every node in `nodes` has an entry."""
    totals = {node: 0 for node in nodes}
    for primitive, node, role in active:
        if node not in totals:
            continue
        priority = priorities.get(primitive, 0)
        totals[node] += priority + (1 if role == "Promoted" and priority > 0 else 0)
    return totals


# ---------------------------------------------------------------- topology


def level_matches(level: FencingLevel, target: str,
                  node_attributes: Mapping[str, str] | None = None) -> bool:
    """target=, target-pattern= (regular expression, searched), target-attribute/value."""
    if level.target is not None:
        return level.target == target
    if level.target_pattern is not None:
        try:
            return re.search(level.target_pattern, target) is not None
        except re.error:
            return False
    if level.target_attribute is not None:
        attributes = node_attributes or {}
        return attributes.get(level.target_attribute) == level.target_value
    return False


def levels_for_target(levels: Iterable[FencingLevel], target: str,
                      node_attributes: Mapping[str, str] | None = None
                      ) -> tuple[FencingLevel, ...]:
    """The topology levels that apply to `target`, in ascending index."""
    matching = [level for level in levels if level_matches(level, target, node_attributes)]
    return tuple(sorted(matching, key=lambda level: level.index))


def topology_problems(levels: Iterable[FencingLevel],
                      device_ids: Iterable[str]) -> list[str]:
    """One line per problem: bad index, empty level, unknown device, bad pattern, no target."""
    known = set(device_ids)
    problems = []
    low, high = TOPOLOGY_INDEX_RANGE
    for level in levels:
        name = level.id or f"level {level.index}"
        if not low <= level.index <= high:
            problems.append(f"fencing level {name}: index must be within {low}..{high}, "
                            f"not {level.index}")
        if not level.devices:
            problems.append(f"fencing level {name}: no devices")
        for device in level.devices:
            if device not in known:
                problems.append(f"fencing level {name}: unknown fence device {device!r}")
        if level.target_pattern is not None:
            try:
                re.compile(level.target_pattern)
            except re.error as error:
                problems.append(f"fencing level {name}: bad target-pattern: {error}")
        if (level.target is None and level.target_pattern is None
                and level.target_attribute is None):
            problems.append(f"fencing level {name}: no target, target-pattern or "
                            f"target-attribute")
    return problems


@dataclass(frozen=True)
class PlannedLevel:
    """One level to try: all of `devices` must succeed. `index` is the topology index, or
    the position in priority order when no topology applies (`from_topology` False)."""

    index: int
    devices: tuple[str, ...]
    from_topology: bool

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "devices": list(self.devices),
                "from_topology": self.from_topology}


@dataclass(frozen=True)
class FencePlan:
    """The levels to try for one fence request, in order, with the reasons."""

    target: str
    action: str
    levels: tuple[PlannedLevel, ...]
    explanation: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.levels

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "action": self.action,
                "levels": [level.to_dict() for level in self.levels],
                "explanation": list(self.explanation)}


def plan_fencing(target: str, action: str, devices: Iterable[FenceDevice],
                 levels: Iterable[FencingLevel],
                 decisions: Mapping[str, HostCheckDecision],
                 node_attributes: Mapping[str, str] | None = None) -> FencePlan:
    """Order the devices for one request. `decisions` holds the host-check answer per device
    id for this target (devices without one count as unable)."""
    by_id = {device.id: device for device in devices}
    explanation: list[str] = []
    planned: list[PlannedLevel] = []
    topology = levels_for_target(levels, target, node_attributes)
    if topology:
        for level in topology:
            problem = _level_problem(level, by_id, decisions)
            if problem:
                explanation.append(f"level {level.index} skipped: {problem}")
                continue
            planned.append(PlannedLevel(level.index, level.devices, True))
            explanation.append(f"level {level.index}: {', '.join(level.devices)}")
        if not planned:
            explanation.append(f"no usable fencing level for {target}")
        return FencePlan(target, action, tuple(planned), tuple(explanation))
    ordered = sorted(enumerate(by_id.values()), key=lambda item: (-item[1].priority, item[0]))
    for _, device in ordered:
        problem = _device_problem(device, decisions)
        if problem:
            explanation.append(f"{device.id} not used: {problem}")
            continue
        planned.append(PlannedLevel(len(planned) + 1, (device.id,), False))
        explanation.append(f"{device.id} (priority {device.priority}): "
                           f"{decisions[device.id].reason}")
    if not planned:
        explanation.append(f"no fence device can fence {target}")
    return FencePlan(target, action, tuple(planned), tuple(explanation))


def _device_problem(device: FenceDevice, decisions: Mapping[str, HostCheckDecision]
                    ) -> str | None:
    if not device.enabled:
        return "disabled (target-role=Stopped)"
    decision = decisions.get(device.id)
    if decision is None:
        return "no host check answer"
    if not decision.can_fence:
        return decision.reason
    return None


def _level_problem(level: FencingLevel, by_id: Mapping[str, FenceDevice],
                   decisions: Mapping[str, HostCheckDecision]) -> str | None:
    for device_id in level.devices:
        device = by_id.get(device_id)
        if device is None:
            return f"unknown fence device {device_id!r}"
        problem = _device_problem(device, decisions)
        if problem:
            return f"{device_id} {problem}" if not problem.startswith(device_id) else problem
    return None


@dataclass(frozen=True)
class LevelPhase:
    """One phase of a level: send `action` to every device; `decides` False means failures
    of this phase are reported but do not fail the level (the `on` half of a reboot)."""

    action: str
    decides: bool


def level_phases(action: str, device_count: int, supports_reboot: bool) -> tuple[LevelPhase, ...]:
    """How a level carries out `action`. A reboot on one device that supports it is one
    reboot; on several devices, or a device without reboot, it is off to all then on to all,
    and only the off phase decides success (Pacemaker's rule)."""
    if action == "reboot" and (device_count > 1 or not supports_reboot):
        return (LevelPhase("off", True), LevelPhase("on", False))
    return (LevelPhase(action, True),)


# ---------------------------------------------------------------- the timing rule


def minimum_recovery_wait_ms(lease_ms: float, watchdog_timeout_ms: float,
                             clock_rate_error: float, margin_ms: float) -> int:
    """Smallest W (ms, rounded up) with W >= (1+p)*((L+WD)/(1-p)+K)."""
    bound = (1 + clock_rate_error) * ((lease_ms + watchdog_timeout_ms)
                                      / (1 - clock_rate_error) + margin_ms)
    return math.ceil(bound - 1e-9)


def check_timing(lease_ms: float, watchdog_timeout_ms: float, clock_rate_error: float,
                 margin_ms: float, recovery_wait_ms: float) -> str | None:
    """None when W >= (1+p)*((L+WD)/(1-p)+K) holds, else a one-line error with the numbers."""
    for name, value in (("lease_ms", lease_ms), ("watchdog_timeout_ms", watchdog_timeout_ms),
                        ("margin_ms", margin_ms), ("recovery_wait_ms", recovery_wait_ms)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (
                isinstance(value, float) and not math.isfinite(value)):
            return f"timing rule: {name} must be a finite number >= 0, not {value!r}"
    if lease_ms <= 0 or watchdog_timeout_ms <= 0:
        return (f"timing rule: lease_ms ({lease_ms}) and watchdog_timeout_ms "
                f"({watchdog_timeout_ms}) must be positive")
    if not isinstance(clock_rate_error, (int, float)) or not 0 <= clock_rate_error < 1:
        return f"timing rule: clock_rate_error must be within [0, 1), not {clock_rate_error!r}"
    bound = (1 + clock_rate_error) * ((lease_ms + watchdog_timeout_ms)
                                      / (1 - clock_rate_error) + margin_ms)
    if recovery_wait_ms >= bound - 1e-9:
        return None
    needed = minimum_recovery_wait_ms(lease_ms, watchdog_timeout_ms, clock_rate_error,
                                      margin_ms)
    return (f"timing rule broken: recovery wait W={recovery_wait_ms:g} ms is below "
            f"(1+p)*((L+WD)/(1-p)+K) = {needed} ms with lease L={lease_ms:g} ms, watchdog "
            f"WD={watchdog_timeout_ms:g} ms, clock-rate error p={clock_rate_error:g}, "
            f"margin K={margin_ms:g} ms")


def check_lease_settings(lease_ms: float, heartbeat_period_ms: float,
                         watchdog_timeout_ms: float, stop_timeout_ms: float,
                         margin_ms: float) -> str | None:
    """The companions of the timing rule (research jepsen-cts 4.5): the lease is renewed at
    least three times per lease (HB <= L/3), and a stop must finish before the watchdog
    fires (stop_timeout <= WD - K). None when both hold, else a one-line error."""
    if heartbeat_period_ms <= 0 or heartbeat_period_ms * 3 > lease_ms:
        return (f"lease rule broken: heartbeat period {heartbeat_period_ms:g} ms must be "
                f"positive and at most a third of the lease {lease_ms:g} ms")
    if stop_timeout_ms > watchdog_timeout_ms - margin_ms:
        return (f"lease rule broken: stop timeout {stop_timeout_ms:g} ms exceeds watchdog "
                f"timeout {watchdog_timeout_ms:g} ms minus margin {margin_ms:g} ms")
    return None


# ---------------------------------------------------------------- cluster-level settings


@dataclass(frozen=True)
class FencingSettings:
    """The cluster properties that drive fencing, read once from the configuration."""

    enabled: bool
    action: str                   # "reboot" | "off"
    timeout_ms: int               # stonith-timeout: the budget of each device action
    priority_delay_ms: int        # priority-fencing-delay
    watchdog_timeout_ms: int      # stonith-watchdog-timeout (0: no watchdog fencing)


_TRUE_WORDS = ("true", "yes", "on", "y", "1")


def fencing_settings(config: Configuration) -> FencingSettings:
    """stonith-*/fencing-* properties (the fencing-* spellings win), with Pacemaker's
    defaults; raises FencingConfigError naming a bad value."""

    def pick(new_name: str, old_name: str, default: str) -> str:
        value = config.property(new_name)
        return value if value is not None else (config.property(old_name) or default)

    enabled = pick("fencing-enabled", "stonith-enabled", "true").strip().lower() in _TRUE_WORDS
    action = pick("fencing-action", "stonith-action", "reboot").strip()
    if action == "poweroff":
        action = "off"
    if action not in ("reboot", "off"):
        raise FencingConfigError(f"stonith-action must be reboot or off, not {action!r}")
    timeout_ms = parse_duration_ms(pick("fencing-timeout", "stonith-timeout", "60s"),
                                   "stonith-timeout")
    if timeout_ms <= 0:
        raise FencingConfigError("stonith-timeout must be positive")
    priority_delay_ms = parse_duration_ms(config.property("priority-fencing-delay") or "0",
                                          "priority-fencing-delay")
    watchdog_text = pick("fencing-watchdog-timeout", "stonith-watchdog-timeout", "0").strip()
    watchdog_ms = 0 if watchdog_text.startswith("-") else parse_duration_ms(
        watchdog_text, "stonith-watchdog-timeout")
    return FencingSettings(enabled, action, timeout_ms, priority_delay_ms, watchdog_ms)


@dataclass(frozen=True)
class RecoveryDecision:
    """May the majority recover a lost node's resources now? With the reason."""

    allowed: bool
    reason: str


def recovery_decision(node: str, *, has_fence_device: bool, fence_confirmed: bool,
                      elapsed_since_last_heartbeat_ms: int | None,
                      recovery_wait_ms: int | None) -> RecoveryDecision:
    """DESIGN section 7: recover only after a fence agent confirmed the node off; with no
    fence device, only after the recovery wait W has passed since max(last heartbeat
    commit, own election), measured on the leader's monotonic clock and carried in the log.
    `recovery_wait_ms` None means no watchdog mode is configured: nothing to wait for."""
    if fence_confirmed:
        return RecoveryDecision(True, f"{node} was fenced (confirmed by a fence agent)")
    if has_fence_device:
        return RecoveryDecision(False, f"{node} must be fenced before its resources recover")
    if recovery_wait_ms is None:
        return RecoveryDecision(False, f"{node} is unclean: no fence device and no watchdog "
                                       f"recovery wait is configured")
    if elapsed_since_last_heartbeat_ms is None:
        return RecoveryDecision(False, f"{node}: no heartbeat time known yet")
    if elapsed_since_last_heartbeat_ms >= recovery_wait_ms:
        return RecoveryDecision(True, f"{node} silent for {elapsed_since_last_heartbeat_ms} ms "
                                      f">= recovery wait {recovery_wait_ms} ms (watchdog)")
    return RecoveryDecision(False, f"{node} silent for {elapsed_since_last_heartbeat_ms} ms, "
                                   f"waiting for {recovery_wait_ms} ms (watchdog)")
