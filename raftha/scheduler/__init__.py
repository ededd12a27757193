"""raftha.scheduler: Pacemaker placement semantics as a pure function.

plan(config, status) -> Plan (placement, actions, orderings, fencing, explanations).
"""

from raftha.scheduler.plan import Action, Explanation, InstancePlacement, Plan
from raftha.scheduler.planner import plan

__all__ = ["Action", "Explanation", "InstancePlacement", "Plan", "plan"]
