"""raftha.raft package."""
