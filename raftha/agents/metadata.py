"""Resource agent meta-data: parse the OCF meta-data XML into plain frozen data.

Role: turn `<resource-agent>` XML (OCF 1.0 DTD or 1.1 RNG; a missing DOCTYPE is fine) into
parameters (required, unique, unique-group, reloadable, private, type, default) and actions
(timeouts and intervals in milliseconds), and decide which reload action an agent offers.

Invariants: parsing is pure (no I/O) and bounded (input larger than MAX_METADATA_BYTES is
refused); malformed XML raises MetadataError with a one-line reason; durations follow
Pacemaker's rules (a bare number means seconds).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

MAX_METADATA_BYTES = 1024 * 1024


class MetadataError(ValueError):
    """The agent's meta-data could not be understood."""


_DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNIT_MS = {
    "": 1000.0, "s": 1000.0, "sec": 1000.0, "secs": 1000.0, "second": 1000.0,
    "seconds": 1000.0,
    "ms": 1.0, "msec": 1.0, "msecs": 1.0,
    "us": 0.001, "usec": 0.001,
    "m": 60_000.0, "min": 60_000.0, "mins": 60_000.0, "minute": 60_000.0,
    "minutes": 60_000.0,
    "h": 3_600_000.0, "hr": 3_600_000.0, "hour": 3_600_000.0, "hours": 3_600_000.0,
}


def parse_duration_ms(text: str) -> int:
    """'20s' -> 20000, '2min' -> 120000, '500ms' -> 500, '30' -> 30000 (seconds)."""
    match = _DURATION_PATTERN.match(text or "")
    if not match:
        raise MetadataError(f"invalid duration {text!r}")
    unit = match.group(2).lower()
    if unit not in _UNIT_MS:
        raise MetadataError(f"invalid duration unit in {text!r}")
    return int(round(float(match.group(1)) * _UNIT_MS[unit]))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "y")


@dataclass(frozen=True)
class ParameterInfo:
    """One `<parameter>` of an agent."""

    name: str
    required: bool
    unique: bool
    unique_group: str
    reloadable: bool
    private: bool
    content_type: str
    default: str | None
    options: tuple[str, ...]
    deprecated: bool
    shortdesc: str
    longdesc: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "required": self.required, "unique": self.unique,
            "unique_group": self.unique_group, "reloadable": self.reloadable,
            "private": self.private, "content_type": self.content_type,
            "default": self.default, "options": list(self.options),
            "deprecated": self.deprecated, "shortdesc": self.shortdesc,
            "longdesc": self.longdesc,
        }


@dataclass(frozen=True)
class ActionInfo:
    """One `<action>` hint (timeouts are hints; the configuration decides)."""

    name: str
    timeout_ms: int | None
    interval_ms: int | None
    depth: int | None
    role: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "timeout_ms": self.timeout_ms,
                "interval_ms": self.interval_ms, "depth": self.depth, "role": self.role}


@dataclass(frozen=True)
class AgentMetadata:
    """Parsed meta-data of one agent."""

    name: str
    agent_version: str
    ocf_version: str
    shortdesc: str
    longdesc: str
    parameters: tuple[ParameterInfo, ...]
    actions: tuple[ActionInfo, ...]

    def parameter(self, name: str) -> ParameterInfo | None:
        return next((item for item in self.parameters if item.name == name), None)

    def action(self, name: str, role: str = "") -> ActionInfo | None:
        """First action of that name (and role, if given)."""
        for item in self.actions:
            if item.name == name and (not role or item.role == role):
                return item
        return None

    def supports(self, action: str) -> bool:
        return any(item.name == action for item in self.actions)

    @property
    def required_parameters(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.parameters if item.required)

    def ocf_version_tuple(self) -> tuple[int, int]:
        """'1.1' -> (1, 1); anything unreadable counts as 1.0, the common legacy case."""
        match = re.match(r"^\s*(\d+)\.(\d+)", self.ocf_version)
        return (int(match.group(1)), int(match.group(2))) if match else (1, 0)

    def reload_action(self) -> str | None:
        """Which reload action to use for a parameter change, or None (restart).

        OCF >= 1.1 agents that advertise `reload-agent` get it; older agents that advertise
        `reload` get the legacy reload (Pacemaker's rule in controld_metadata.c).
        """
        if self.ocf_version_tuple() >= (1, 1) and self.supports("reload-agent"):
            return "reload-agent"
        if self.ocf_version_tuple() < (1, 1) and self.supports("reload"):
            return "reload"
        return None

    def reload_covers(self, changed_parameters: tuple[str, ...] | list[str]) -> bool:
        """True when a reload (not a restart) can apply a change of these parameters."""
        action = self.reload_action()
        if action is None:
            return False
        for name in changed_parameters:
            info = self.parameter(name)
            if info is None:
                return False
            if action == "reload-agent" and not info.reloadable:
                return False
            if action == "reload" and info.unique:
                return False
        return True

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "agent_version": self.agent_version,
            "ocf_version": self.ocf_version, "shortdesc": self.shortdesc,
            "longdesc": self.longdesc,
            "parameters": [item.to_dict() for item in self.parameters],
            "actions": [item.to_dict() for item in self.actions],
        }


def _text_of(element: ElementTree.Element, tag: str) -> str:
    child = element.find(tag)
    if child is None:
        return ""
    return " ".join("".join(child.itertext()).split())


def _optional_duration(value: str | None, what: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return parse_duration_ms(value)
    except MetadataError as error:
        raise MetadataError(f"{what}: {error}") from None


def _parse_parameter(element: ElementTree.Element) -> ParameterInfo:
    name = element.get("name", "").strip()
    if not name:
        raise MetadataError("a <parameter> has no name")
    content = element.find("content")
    content_type = content.get("type", "string") if content is not None else "string"
    default = content.get("default") if content is not None else None
    options: tuple[str, ...] = ()
    if content is not None:
        options = tuple(option.get("value", "") for option in content.findall("option"))
    return ParameterInfo(
        name=name,
        required=_flag(element.get("required")),
        unique=_flag(element.get("unique")),
        unique_group=element.get("unique-group", ""),
        reloadable=_flag(element.get("reloadable")),
        private=_flag(element.get("private")),
        content_type=content_type,
        default=default,
        options=options,
        deprecated=element.find("deprecated") is not None,
        shortdesc=_text_of(element, "shortdesc"),
        longdesc=_text_of(element, "longdesc"),
    )


def _parse_action(element: ElementTree.Element) -> ActionInfo:
    name = element.get("name", "").strip()
    if not name:
        raise MetadataError("an <action> has no name")
    depth_text = element.get("depth")
    depth = int(depth_text) if depth_text and depth_text.strip().isdigit() else None
    return ActionInfo(
        name=name,
        timeout_ms=_optional_duration(element.get("timeout"), f"action {name} timeout"),
        interval_ms=_optional_duration(element.get("interval"), f"action {name} interval"),
        depth=depth,
        role=element.get("role", ""),
    )


def parse_metadata(xml_text: str) -> AgentMetadata:
    """Parse meta-data XML; raise MetadataError naming the problem."""
    if len(xml_text.encode("utf-8", "replace")) > MAX_METADATA_BYTES:
        raise MetadataError(f"meta-data larger than {MAX_METADATA_BYTES} bytes")
    if not xml_text.strip():
        raise MetadataError("meta-data is empty")
    # ElementTree does not fetch external DTDs; strip the DOCTYPE so nothing is resolved.
    cleaned = re.sub(r"<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", "", xml_text, count=1)
    try:
        root = ElementTree.fromstring(cleaned)
    except ElementTree.ParseError as error:
        raise MetadataError(f"meta-data is not well-formed XML: {error}") from None
    if root.tag != "resource-agent":
        raise MetadataError(f"meta-data root is <{root.tag}>, expected <resource-agent>")
    parameters_element = root.find("parameters")
    actions_element = root.find("actions")
    parameters = tuple(
        _parse_parameter(item)
        for item in (parameters_element.findall("parameter")
                     if parameters_element is not None else [])
    )
    actions = tuple(
        _parse_action(item)
        for item in (actions_element.findall("action") if actions_element is not None else [])
    )
    return AgentMetadata(
        name=root.get("name", ""),
        agent_version=root.get("version", ""),
        ocf_version=_text_of(root, "version") or "1.0",
        shortdesc=_text_of(root, "shortdesc"),
        longdesc=_text_of(root, "longdesc"),
        parameters=parameters,
        actions=actions,
    )
