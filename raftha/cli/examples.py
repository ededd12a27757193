"""Examples for `--help` of commands whose own help text has none.

`add_examples(main)` appends an "Examples:" block (click's \\b keeps the lines as written)
to every command and group listed here that does not show examples yet; commands that
carry their own examples keep them. Paths are command names below `raftha`.
"""

from __future__ import annotations

import click

EXAMPLES: dict[str, tuple[str, ...]] = {
    "property": ("raftha property set stonith-enabled=false no-quorum-policy=stop",
                 "raftha property show"),
    "property set": ("raftha property set stonith-enabled=false",
                     "raftha property set maintenance-mode=true"),
    "property unset": ("raftha property unset maintenance-mode",),
    "property show": ("raftha property show", "raftha property show --output json"),
    "configure": ("raftha configure load update web.crm", "raftha configure show",
                  "raftha configure edit", "raftha configure begin ... raftha configure commit"),
    "resource": ("raftha resource move WebSite node2 --lifetime 30m",
                 "raftha resource ban WebSite node1", "raftha resource clear WebSite",
                 "raftha resource cleanup WebSite", "raftha resource stop WebSite"),
    "resource failcount": ("raftha resource failcount WebSite",
                           "raftha resource failcount WebSite --node node2 --output json"),
    "resource restart": ("raftha resource restart WebSite",
                         "raftha resource restart WebSite --timeout 300"),
    "cluster": ("raftha cluster init --name web --node a=10.0.0.1:7000 --node "
                "b=10.0.0.2:7000 --node c=10.0.0.3:7000 --dir /etc/raftha",
                "raftha cluster status", "raftha cluster members"),
    "cluster init": ("raftha cluster init --name web --node a=10.0.0.1:7000 "
                     "--node b=10.0.0.2:7000 --node c=10.0.0.3:7000 --dir /etc/raftha",),
    "cluster join": ("raftha cluster join d=10.0.0.4:7000 --dir /etc/raftha "
                     "--socket /run/raftha/control.sock",),
    "cluster remove": ("raftha cluster remove d",),
    "cluster rotate-key": ("raftha cluster rotate-key --generate /etc/raftha/authkey.next",
                           "raftha cluster rotate-key --phase accept",
                           "raftha cluster rotate-key --phase switch",
                           "raftha cluster rotate-key --phase finish"),
    "cluster members": ("raftha cluster members", "raftha cluster members --output json"),
    "node": ("raftha node standby node2", "raftha node online node2",
             "raftha node attribute node2 set rack r2", "raftha node fence node3"),
    "node online": ("raftha node online node2",),
    "node maintenance": ("raftha node maintenance node2   # monitors pause, nothing moves",),
    "node ready": ("raftha node ready node2",),
    "node attribute": ("raftha node attribute node2 set rack r2",
                       "raftha node attribute node2 show",
                       "raftha node attribute node2 delete rack"),
    "node run": ("raftha node run --config /etc/raftha/node1/node.toml",),
    "node resync": ("raftha node resync --config /etc/raftha/node3/node.toml",),
    "node fence": ("raftha node fence node3", "raftha node fence node3 --action off"),
    "sandbox": ("raftha sandbox up --dir /tmp/sb --nodes 3",
                "RAFTHA_SOCKET=/tmp/sb/node1/control.sock raftha status",
                "raftha sandbox down --dir /tmp/sb"),
    "sandbox up": ("raftha sandbox up --dir /tmp/sb --nodes 3",
                   "raftha sandbox up --dir /tmp/sb --nodes 3 --fencing"),
    "sandbox down": ("raftha sandbox down --dir /tmp/sb",),
    "sandbox status": ("raftha sandbox status --dir /tmp/sb",),
    "sandbox kill": ("raftha sandbox kill --dir /tmp/sb node2",),
    "sandbox start": ("raftha sandbox start --dir /tmp/sb node2",),
    "demo": ("raftha demo",),
    "simulate": ("raftha simulate cib.xml", "raftha simulate cib.xml --show-scores",
                 "raftha simulate cib.xml --output json"),
    "acl": ("raftha acl grant alice operator", "raftha acl grant @hagroup read-only",
            "raftha acl show"),
    "acl grant": ("raftha acl grant alice operator", "raftha acl grant @wheel admin"),
    "acl revoke": ("raftha acl revoke alice",),
    "acl show": ("raftha acl show",),
    "fence": ("raftha fence history",),
    "fence history": ("raftha fence history", "raftha fence history --output json"),
}


def has_examples(command: click.Command) -> bool:
    return "Example" in (command.help or "") or "Example" in (command.epilog or "")


def add_examples(root: click.Group) -> None:
    for path, lines in EXAMPLES.items():
        command: click.Command | None = root
        for name in path.split():
            command = command.commands.get(name) if isinstance(command, click.Group) else None
        if command is None or has_examples(command):
            continue
        block = "\n".join(f"  {line}" for line in lines)
        heading = "Example:" if len(lines) == 1 else "Examples:"
        command.help = f"{(command.help or '').rstrip()}\n\n\b\n{heading}\n{block}"
