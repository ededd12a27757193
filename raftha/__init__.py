"""raftha: a high-availability cluster resource manager over a replicated Raft event log.

The pure core (`raftha.model`, `raftha.scheduler`, `raftha.cib`, `raftha.crmsh`) does no I/O;
effects live at the edges (`raftha.raft`, `raftha.daemon`, `raftha.agents`, `raftha.cli`).
"""

__version__ = "0.1.0"
