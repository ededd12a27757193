"""Pacemaker's call-back tools for resource agents, answered by the local raftha daemon.

Usage: raftha_shim.py TOOL [ARGS...], where TOOL is crm_attribute, crm_master, crm_node,
attrd_updater, pacemakerd, crm_resource, cibadmin or crm_mon (the executables beside this
file are two-line wrappers). The daemon is found through RAFTHA_SOCKET, which the executor
passes to every agent.

Role: agents (ocf:pacemaker:Stateful, drbd, pgsql, ping...) set promotion scores and node
attributes and ask for the node name, members and quorum with these tools. Writes become
events in the replicated log (TransientAttributeSet/Unset for -l reboot and attrd_updater,
NodeAttributeSet/Unset for -l forever, ClusterPropertySet for --type crm_config); reads
answer from the committed state. attrd_updater -d DELAY dampens as attrd does: the daemon
holds the changes and writes the newest value once the attribute was quiet for DELAY (one
event per node), and attrd_updater -Q answers with the held value.

Invariants: the exit statuses and output formats follow Pacemaker 2.1.5 where agents parse
them (a missing attribute on query is exit 105 "No such device or address"; `-q` prints the
bare value); every call is bounded by a timeout; an option agents do not need is refused
with a one-line error and exit status 64 (usage), never ignored silently.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from raftha.daemon.client import ApiError, ControlClient  # noqa: E402

EXIT_USAGE = 64
EXIT_NO_SUCH = 105
EXIT_ERROR = 1
PACEMAKER_VERSION = "2.1.5"
CALL_TIMEOUT_MS = 30_000


class ShimError(Exception):
    """A failed call: message and exit status."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


def call(op: str, **args):
    socket_path = os.environ.get("RAFTHA_SOCKET", "")
    if not socket_path:
        raise ShimError("RAFTHA_SOCKET is not set: cannot reach the raftha daemon")
    try:
        with ControlClient(socket_path, CALL_TIMEOUT_MS) as client:
            return client.call(op, **args)
    except ApiError as error:
        raise ShimError(f"Error performing operation: {error}") from None


def parse(argv: list[str], flags: dict[str, str], valued: dict[str, str],
          optional_value: tuple[str, ...] = ()) -> dict[str, str | bool]:
    """Short and long options to canonical names. `flags` and `valued` map every spelling
    ("-v", "--update") to a canonical name; `optional_value` names take a value only when
    written --name=VALUE."""
    options: dict[str, str | bool] = {}
    position = 0
    while position < len(argv):
        word = argv[position]
        position += 1
        name, equals, attached = word.partition("=") if word.startswith("--") else (
            word, "", "")
        if name in flags and name not in valued:
            canonical = flags[name]
            options[canonical] = attached if (equals and canonical in optional_value) else True
            continue
        if name in valued:
            if equals:
                options[valued[name]] = attached
            elif len(word) > 2 and not word.startswith("--") and word[:2] in valued:
                options[valued[word[:2]]] = word[2:]
            else:
                if position >= len(argv):
                    raise ShimError(f"option {name} needs a value", EXIT_USAGE)
                options[valued[name]] = argv[position]
                position += 1
            continue
        if len(word) > 2 and word[0] == "-" and word[1] != "-" and word[:2] in valued:
            options[valued[word[:2]]] = word[2:]
            continue
        if len(word) > 2 and word[0] == "-" and word[1] != "-" and all(
                f"-{letter}" in flags for letter in word[1:]):
            for letter in word[1:]:
                options[flags[f"-{letter}"]] = True
            continue
        raise ShimError(f"unsupported option {word!r} (raftha shim)", EXIT_USAGE)
    return options


def resource_name() -> str:
    instance = os.environ.get("OCF_RESOURCE_INSTANCE", "")
    return instance.split(":")[0]


def print_attribute(scope: str, name: str, value: str | None, quiet: bool,
                    default: str | None) -> int:
    if value is None:
        value = default
    if value is None:
        if not quiet:
            sys.stderr.write("Error performing operation: No such device or address\n")
        return EXIT_NO_SUCH
    if quiet:
        print(value)
    else:
        print(f"scope={scope}  name={name} value={value}")
    return 0


# ----------------------------------------------------------------------------- tools

CRM_ATTRIBUTE_FLAGS = {"-G": "query", "--query": "query", "-D": "delete", "--delete": "delete",
                       "-q": "quiet", "--quiet": "quiet", "-p": "promotion",
                       "--promotion": "promotion", "-Q": "quiet",
                       "--master": "promotion", "-V": "ignored", "--verbose": "ignored"}
CRM_ATTRIBUTE_VALUED = {"-n": "name", "--name": "name", "-v": "value", "--update": "value",
                        "--attr-value": "value", "-N": "node", "--node": "node",
                        "-l": "lifetime", "--lifetime": "lifetime", "-t": "type",
                        "--type": "type", "-d": "default", "--default": "default",
                        "-s": "set", "--set-name": "set", "-i": "id", "--id": "id",
                        "-r": "resource", "--resource": "resource"}
LIFETIME_WORDS = {"reboot": "reboot", "status": "reboot", "transient": "reboot",
                  "forever": "forever", "nodes": "forever", "permanent": "forever"}


def crm_attribute(argv: list[str]) -> int:
    options = parse(argv, CRM_ATTRIBUTE_FLAGS, CRM_ATTRIBUTE_VALUED, ("promotion",))
    promotion = options.get("promotion")
    if promotion:
        resource = promotion if isinstance(promotion, str) else (
            str(options.get("resource", "")) or resource_name())
        if not resource:
            raise ShimError("--promotion needs a resource (OCF_RESOURCE_INSTANCE is not set)",
                            EXIT_USAGE)
        options["name"] = f"master-{resource}"
        options["lifetime"] = "reboot"
    name = options.get("name")
    if not isinstance(name, str) or not name:
        raise ShimError("an attribute name is required (-n NAME)", EXIT_USAGE)
    lifetime = options.get("lifetime") or options.get("type")
    if lifetime is None:
        lifetime = "forever" if "node" in options else "crm_config"
    lifetime = LIFETIME_WORDS.get(str(lifetime), str(lifetime))
    quiet = bool(options.get("quiet"))
    default = options.get("default") if isinstance(options.get("default"), str) else None
    if lifetime == "crm_config":
        return cluster_property(name, options, quiet, default)
    if lifetime not in ("reboot", "forever"):
        raise ShimError(f"unsupported attribute type {lifetime!r} (raftha shim)", EXIT_USAGE)
    node = options.get("node") if isinstance(options.get("node"), str) else None
    arguments = {"name": name, "lifetime": lifetime}
    if node:
        arguments["node"] = node
    if options.get("delete"):
        call("attribute_update", value=None, **arguments)
        return 0
    if isinstance(options.get("value"), str):
        call("attribute_update", value=options["value"], **arguments)
        return 0
    answer = call("attribute_query", **arguments)
    scope = "status" if lifetime == "reboot" else "nodes"
    return print_attribute(scope, name, answer["value"], quiet, default)


def cluster_property(name: str, options: dict, quiet: bool, default: str | None) -> int:
    if options.get("delete"):
        properties = call("property_show")["properties"]
        if name in properties:
            call("property_unset", name=name)
        return 0
    if isinstance(options.get("value"), str):
        call("property_set", name=name, value=options["value"])
        return 0
    value = call("property_show")["properties"].get(name)
    return print_attribute("crm_config", name, value, quiet, default)


CRM_MASTER_FLAGS = {"-G": "query", "--get-value": "query", "-D": "delete",
                    "--delete-attr": "delete", "-Q": "quiet", "-q": "quiet",
                    "--quiet": "quiet", "-V": "ignored"}
CRM_MASTER_VALUED = {"-v": "value", "--attr-value": "value", "-l": "lifetime",
                     "--lifetime": "lifetime", "-N": "node", "--node": "node",
                     "-r": "resource", "--resource": "resource", "-d": "default",
                     "--default": "default"}


def crm_master(argv: list[str]) -> int:
    options = parse(argv, CRM_MASTER_FLAGS, CRM_MASTER_VALUED)
    resource = str(options.get("resource", "")) or resource_name()
    arguments = ["--promotion=" + resource]
    if options.get("query"):
        arguments.append("-G")
    if options.get("delete"):
        arguments.append("-D")
    if options.get("quiet"):
        arguments.append("-q")
    for key, flag in (("value", "-v"), ("node", "-N"), ("default", "-d")):
        if isinstance(options.get(key), str):
            arguments += [flag, str(options[key])]
    return crm_attribute(arguments)


CRM_NODE_FLAGS = {"-n": "name", "--name": "name", "-l": "list", "--list": "list",
                  "-p": "partition", "--partition": "partition", "-q": "quorum",
                  "--quorum": "quorum", "-i": "id", "--cluster-id": "id", "-V": "ignored"}


def crm_node(argv: list[str]) -> int:
    options = parse(argv, CRM_NODE_FLAGS, {"-N": "node_id", "--name-for-id": "node_id"})
    if options.get("name") or not options:
        try:
            print(call("node_list")["local"])
        except ShimError:
            fallback = os.environ.get("OCF_RESKEY_CRM_meta_on_node", "")
            if not fallback:
                raise
            print(fallback)
        return 0
    answer = call("node_list")
    if options.get("list"):
        for node in answer["nodes"]:
            state = "member" if node["state"] == "online" else "lost"
            print(f"{node['id']} {node['name']} {state}")
    elif options.get("partition"):
        print(" ".join(node["name"] for node in answer["nodes"] if node["state"] == "online"))
    elif options.get("quorum"):
        print("1" if answer["quorum"] else "0")
    elif options.get("id"):
        print(next(node["id"] for node in answer["nodes"] if node["name"] == answer["local"]))
    elif "node_id" in options:
        wanted = str(options["node_id"])
        names = [node["name"] for node in answer["nodes"] if str(node["id"]) == wanted]
        if not names:
            return EXIT_NO_SUCH
        print(names[0])
    return 0


ATTRD_FLAGS = {"-D": "delete", "--delete": "delete", "-Q": "query", "--query": "query",
               "-A": "all", "--all": "all", "-R": "refresh", "--refresh": "refresh",
               "-p": "private", "--private": "private", "-q": "quiet", "-V": "ignored",
               "-Y": "update_delay", "--update-delay": "update_delay"}
ATTRD_VALUED = {"-n": "name", "--name": "name", "-U": "value", "--update": "value",
                "-B": "value", "--update-both": "value", "-v": "value",
                "-d": "delay", "--delay": "delay",
                "-N": "node", "--node": "node", "-s": "set", "--set": "set",
                "-z": "utilization"}


def attrd_updater(argv: list[str]) -> int:
    options = parse(argv, ATTRD_FLAGS, ATTRD_VALUED)
    if options.get("refresh"):
        return 0
    name = options.get("name")
    if not isinstance(name, str) or not name:
        raise ShimError("an attribute name is required (-n NAME)", EXIT_USAGE)
    arguments = {"name": name, "lifetime": "reboot"}
    if isinstance(options.get("node"), str):
        arguments["node"] = str(options["node"])
    # -d: the attribute's dampening; changes within it reach the log as one write per node.
    delay = options.get("delay")
    dampening = {"delay": delay} if isinstance(delay, str) else {}
    if options.get("update_delay") and not dampening:
        raise ShimError("--update-delay needs -d/--delay", EXIT_USAGE)
    if options.get("delete"):
        call("attribute_update", value=None, **arguments, **dampening)
        return 0
    if isinstance(options.get("value"), str):
        call("attribute_update", value=options["value"], **arguments, **dampening)
        return 0
    if options.get("update_delay"):
        call("attribute_update", **arguments, **dampening)
        return 0
    if options.get("query"):
        nodes = [arguments.get("node")]
        if options.get("all"):
            nodes = [node["name"] for node in call("node_list")["nodes"]]
        found = False
        for node in nodes:
            query = dict(arguments, node=node) if node else dict(arguments)
            # attrd answers with the value it holds, written to the log or not yet.
            answer = call("attribute_query", buffered=True, **query)
            if answer["value"] is not None:
                found = True
                print(f'name="{name}" host="{answer["node"]}" value="{answer["value"]}"')
        return 0 if found else EXIT_NO_SUCH
    if dampening:
        call("attribute_update", **arguments, **dampening)   # -d alone: the dampening
        return 0
    raise ShimError("nothing to do: give -U, -D or -Q", EXIT_USAGE)


def pacemakerd(argv: list[str]) -> int:
    if argv and argv[0] in ("-$", "--version"):
        print(f"Pacemaker {PACEMAKER_VERSION}")
        print("Written by Andrew Beekhof and the Pacemaker project contributors")
        return 0
    raise ShimError("raftha provides pacemakerd only for --version", EXIT_USAGE)


def crm_resource(argv: list[str]) -> int:
    options = parse(argv, {"-W": "locate", "--locate": "locate", "-Q": "quiet",
                           "--quiet": "quiet"},
                    {"-r": "resource", "--resource": "resource"})
    resource = options.get("resource")
    if not options.get("locate") or not isinstance(resource, str):
        raise ShimError("raftha supports only crm_resource --locate -r RESOURCE", EXIT_USAGE)
    resources = call("status")["resources"]
    nodes = sorted({node for instance, view in resources.items()
                    if instance.split(":")[0] == resource.split(":")[0]
                    for node in view.get("nodes") or ([view["node"]] if view["node"] else [])})
    if not nodes:
        if instance_known(resources, resource):
            sys.stderr.write(f"resource {resource} is NOT running\n")
            return 0
        raise ShimError(f"Resource '{resource}' not found", EXIT_NO_SUCH)
    for node in nodes:
        print(node if options.get("quiet") else f"resource {resource} is running on: {node}")
    return 0


def instance_known(resources: dict, resource: str) -> bool:
    return any(instance.split(":")[0] == resource.split(":")[0] for instance in resources)


def cibadmin(argv: list[str]) -> int:
    if not argv or argv[0] not in ("-Q", "--query") or len(argv) > 1:
        raise ShimError("raftha supports only cibadmin -Q", EXIT_USAGE)
    from raftha.cib import write_cib
    from raftha.model.config import Configuration
    answer = call("configure_show")
    print(write_cib(Configuration.from_dict(answer["configuration"])))
    return 0


def crm_mon(argv: list[str]) -> int:
    if not set(argv) <= {"-1", "--one-shot", "-r", "-f", "-A", "-n"}:
        raise ShimError("raftha supports only crm_mon -1", EXIT_USAGE)
    from raftha.cli.status import render_status
    print(render_status(call("status")))
    return 0


TOOLS = {"crm_attribute": crm_attribute, "crm_master": crm_master, "crm_node": crm_node,
         "attrd_updater": attrd_updater, "pacemakerd": pacemakerd,
         "crm_resource": crm_resource, "cibadmin": cibadmin, "crm_mon": crm_mon}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        sys.stderr.write(f"usage: raftha_shim.py {{{'|'.join(TOOLS)}}} [ARGS...]\n")
        return EXIT_USAGE
    tool = argv[0]
    try:
        return TOOLS[tool](argv[1:])
    except ShimError as error:
        sys.stderr.write(f"{tool}: {error}\n")
        return error.status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
