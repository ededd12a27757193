"""raftha.raft: the replicated event log (the only package that imports pysyncobj).

`raftha.raft.log.RaftLog` is the real log over hardened pysyncobj 0.3.17;
`raftha.raft.fake.FakeRaftLog` is its in-process twin for unit tests. Shared types live in
`raftha.raft.contract` and are re-exported by `raftha.raft.log`.
"""
