"""Fixtures of the Raft layer tests (real node processes on loopback)."""

from raftnode_harness import raft_cluster

__all__ = ["raft_cluster"]
