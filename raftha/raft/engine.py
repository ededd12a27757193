"""The pysyncobj node behind `RaftLog`: configuration, hardened transport, replicated entry point.

- `build_conf` sets every SyncObjConf option explicitly (no library default is relied on).
- `HardenedTransport` holds a follower's acknowledgements until the journal is synced (one
  sync per tick: group commit), repeats an unchanged acknowledgement only a few times per
  leader fallback timeout (not after every heartbeat), keeps a late acknowledgement from
  rewinding the leader's next index (which made followers cut and re-append applied
  entries), and refuses read-only clients and the admin ("utility") commands.
- `ReplicatedLogNode` has exactly one replicated method, `apply_entry(bytes)`, whose body
  calls a wrapper that never raises, and returns the entry's log index to the proposer. It
  replicates all proposals queued in one tick with one AppendEntries per peer.
- A message that would carry nothing but a new commit index waits up to
  `COMMIT_NOTICE_DELAY_SECONDS`: proposals arriving meanwhile carry it with their entries
  (under a stream of commits that halves the messages per commit). It goes at once when a
  heartbeat is due or when an entry a follower forwarded was committed (that follower
  waits for it), and proposals already queued are never made to wait behind it.
- The leader syncs its new entries right after sending them, while the followers write
  theirs; the tick thread sleeps until a heartbeat or election is due (`tick_wait_seconds`,
  computed when the tick is about to sleep, after it sent what was due).
- `install_peer_ping` keeps follower-to-follower links alive: pysyncobj drops a link on which
  nothing was read for connectionTimeout, and followers never talk to each other, so without
  it the first RequestVote after a leader crash tears the link down and the election fails.

Depends on pysyncobj 0.3.17 private names (checked by `raftha.raft.library`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from raftha.raft.contract import RaftSettings
from raftha.raft.durability import CorruptMetaError, DurableFileJournal, SyncStats
from raftha.raft.library import (
    SyncObj,
    SyncObjConf,
    pysyncobj_syncobj,
    pysyncobj_transport,
    replicated,
)

TICK_WAIT_SECONDS = 0.05
# The tick thread sleeps until the next thing that is due (a heartbeat to send, an election
# deadline), at most this long: connection retries, timeouts and compaction run on ticks.
MAX_TICK_WAIT_SECONDS = 0.1
# Poll timeouts round to whole milliseconds: wake just after the due time, not just before.
TICK_DUE_MARGIN_SECONDS = 0.001
LEADER_STATE = 2
CONNECTION_RETRY_SECONDS = 0.5
MAX_ENTRY_BYTES = 512 * 1024
APPEND_ENTRIES_BATCH_BYTES = 1024 * 1024
COMMANDS_QUEUE_SIZE = 10_000
PING_MESSAGE_TYPE = "raftha_ping"
ACK_TYPE = "next_node_idx"
# An unchanged acknowledgement is repeated this many times per leader fallback timeout.
ACK_REFRESHES_PER_FALLBACK = 2
APPEND_ENTRIES_TYPE = "append_entries"
CONNECT_CHECK_SECONDS = 0.05
# How long the leader may hold back a message carrying nothing but a new commit index.
COMMIT_NOTICE_DELAY_SECONDS = 0.002
JOURNAL_FILE_NAME = "raft.journal"
SNAPSHOT_FILE_NAME = "raft.snapshot"

# pysyncobj builds its journal through a module-level factory called inside SyncObj's
# constructor; constructions are serialised so the factory knows whose counters to use.
_construction_lock = threading.Lock()
_construction_stats: list[SyncStats] = []


def _journal_factory(journal_path: str | None = None) -> DurableFileJournal:
    if journal_path is None or not _construction_stats:
        raise RuntimeError("raftha builds pysyncobj journals only through ReplicatedLogNode")
    snapshot_path = os.path.join(os.path.dirname(journal_path), SNAPSHOT_FILE_NAME)
    try:
        return DurableFileJournal(journal_path, _construction_stats[0], snapshot_path)
    except (CorruptMetaError, OSError):
        raise
    except Exception as error:  # a torn or zeroed journal fails in many ways while parsed
        raise CorruptMetaError(f"raft journal {journal_path} is unreadable: {error!r}") from None


pysyncobj_syncobj.createJournal = _journal_factory


def build_conf(settings: RaftSettings, serializer: Callable[..., Any],
               deserializer: Callable[..., Any],
               on_state_changed: Callable[[int, int], None]) -> SyncObjConf:
    """Every option explicit: see research notes section 5.1 for the reasoning."""
    data_dir = settings.data_dir
    return SyncObjConf(
        password=settings.authkey,
        autoTick=False,
        autoTickPeriod=TICK_WAIT_SECONDS,
        commandsQueueSize=COMMANDS_QUEUE_SIZE,
        raftMinTimeout=settings.election_timeout_min_ms / 1000.0,
        raftMaxTimeout=settings.election_timeout_max_ms / 1000.0,
        appendEntriesPeriod=settings.heartbeat_period_ms / 1000.0,
        connectionTimeout=settings.connection_timeout_ms / 1000.0,
        connectionRetryTime=CONNECTION_RETRY_SECONDS,
        leaderFallbackTimeout=settings.leader_fallback_timeout_ms / 1000.0,
        appendEntriesUseBatch=False,
        appendEntriesBatchSizeBytes=APPEND_ENTRIES_BATCH_BYTES,
        bindAddress=settings.self_address,
        preferredAddrType="ipv4",
        sendBufferSize=2 ** 16,
        recvBufferSize=2 ** 16,
        dnsCacheTime=600.0,
        dnsFailCacheTime=30.0,
        logCompactionMinEntries=settings.compaction_min_entries,
        logCompactionMinTime=settings.compaction_min_time_ms / 1000.0,
        logCompactionSplit=False,
        logCompactionBatchSize=2 ** 16,
        commandsWaitLeader=False,
        fullDumpFile=str(data_dir / SNAPSHOT_FILE_NAME),
        journalFile=str(data_dir / JOURNAL_FILE_NAME),
        bindRetryTime=1.0,
        maxBindRetries=1,
        onReady=None,
        onStateChanged=on_state_changed,
        dynamicMembershipChange=settings.dynamic_membership,
        pollerType="auto",
        useFork=False,
        serializer=serializer,
        deserializer=deserializer,
        serializeChecker=None,
        onCodeVersionChanged=None,
        tcp_keepalive=(16, 3, 5),
    )


class HardenedTransport(pysyncobj_transport.TCPTransport):
    """TCP transport with group-committed acknowledgements; admits members only.

    A follower's acknowledgement of appended entries ("next_node_idx") is held back until
    `flush_acknowledgements`, which the tick loop calls after every tick: one journal sync
    then covers every entry received in that tick (group commit). Any later message to the
    same peer queues behind a held one, so each link stays FIFO. Other messages need no
    journal sync: the leader may replicate before its own write is durable (it counts itself
    only after the pre-tick sync), and term/vote are synced by the meta storer itself.
    """

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any) -> None:  # noqa: N803
        self._pings_lock = threading.Lock()
        self._pings_received: dict[str, int] = {}
        self._held: list[tuple[Any, Any]] = []
        self._held_peers: set[Any] = set()
        # peer -> (the last success acknowledgement sent to it, library clock when sent)
        self._last_acknowledgement: dict[Any, tuple[tuple, float]] = {}
        self._next_connect_check = 0.0
        super().__init__(syncObj, selfNode, otherNodes)

    def pings_received(self) -> dict[str, int]:
        """Peer pings received so far, by peer address (any thread)."""
        with self._pings_lock:
            return dict(self._pings_received)

    def _onMessageReceived(self, node: Any, message: Any) -> None:  # noqa: N802
        if not isinstance(message, dict):
            super()._onMessageReceived(node, message)
            return
        kind = message.get("type")
        if kind == PING_MESSAGE_TYPE:
            # Reading it already refreshed the link's last-read time; nothing else to do.
            with self._pings_lock:
                self._pings_received[node.id] = self._pings_received.get(node.id, 0) + 1
            return
        if kind == ACK_TYPE and message.get("success") and not message.get("reset"):
            self._accept_success_without_rewinding(node, message)
            return
        if kind == APPEND_ENTRIES_TYPE:
            message = skip_entries_already_held(message, self._syncObj._SyncObj__raftLog)
        super()._onMessageReceived(node, message)

    def _accept_success_without_rewinding(self, node: Any, message: Any) -> None:
        """A success acknowledgement must never move the leader's next index backwards.

        pysyncobj sets next index to the acknowledged position; an acknowledgement of an
        older batch therefore rewinds it below what was already sent, the leader resends
        those entries with an older previous index, and the follower (which truncates on any
        overlap, not only on a conflict) cuts entries it already applied and appends them
        again. A success says "I hold everything before this index": keep the further one.
        """
        next_index = self._syncObj._SyncObj__raftNextIndex
        before = next_index.get(node)
        super()._onMessageReceived(node, message)
        after = next_index.get(node)
        if before is not None and after is not None and after < before:
            next_index[node] = before

    def send(self, node: Any, message: Any) -> bool:
        is_acknowledgement = isinstance(message, dict) and message.get("type") == ACK_TYPE
        if is_acknowledgement and self._repeats_a_fresh_acknowledgement(node, message):
            return True
        if is_acknowledgement or node in self._held_peers:
            self._held.append((node, message))
            self._held_peers.add(node)
            return True
        return super().send(node, message)

    def _repeats_a_fresh_acknowledgement(self, node: Any, message: dict) -> bool:
        """True for a success acknowledgement equal to the last one sent to `node`, sent less
        than half the leader fallback timeout ago: it tells the leader nothing new.

        A follower acknowledges every AppendEntries, heartbeats included, and the leader
        wakes for each (a wake alone costs ~0.17 ms of CPU on a small VM). An equal success
        acknowledgement only refreshes the leader's "last response" time, which it checks
        against leaderFallbackTimeout, so one per half of that timeout is enough: the
        longest gap is half the timeout plus one heartbeat period (0.59 s of 1 s with the
        defaults), and the leader needs only a majority of followers in time. Links stay
        read well within the connection timeout (1.5 s) too.
        Anything that moves the leader (a new index, a failure, a reset) is always sent.
        """
        if not message.get("success") or message.get("reset"):
            return False
        now = pysyncobj_syncobj.monotonicTime()
        key = (message.get("next_node_idx"), message.get("success"), message.get("reset"))
        previous = self._last_acknowledgement.get(node)
        refresh_seconds = self._syncObj.conf.leaderFallbackTimeout / ACK_REFRESHES_PER_FALLBACK
        if previous is not None and previous[0] == key and now - previous[1] < refresh_seconds:
            return True
        self._last_acknowledgement[node] = (key, now)
        return False

    def _onTick(self) -> None:  # noqa: N802 - the library's name
        """Binding and reconnecting, which the library checks on every tick: retries are
        half a second apart anyway, so twenty checks a second are plenty."""
        now = pysyncobj_syncobj.monotonicTime()
        if now < self._next_connect_check:
            return
        self._next_connect_check = now + CONNECT_CHECK_SECONDS
        super()._onTick()

    def _onNodeConnected(self, node: Any) -> None:  # noqa: N802 - the library's name
        # An acknowledgement sent over the previous link may have been lost with it.
        self._last_acknowledgement.pop(node, None)
        super()._onNodeConnected(node)

    def _onNodeDisconnected(self, node: Any) -> None:  # noqa: N802 - the library's name
        self._last_acknowledgement.pop(node, None)
        super()._onNodeDisconnected(node)

    def flush_acknowledgements(self) -> None:
        """Sync the journal once, then send every held message in order (tick thread)."""
        if not self._held:
            return
        journal = getattr(self._syncObj, "_SyncObj__raftLog", None)
        if isinstance(journal, DurableFileJournal):
            journal.sync()
        held, self._held = self._held, []
        self._held_peers.clear()
        for node, message in held:
            super().send(node, message)

    def _onIncomingMessageReceived(self, conn: Any, message: Any) -> None:  # noqa: N802
        handshake_done = self._syncObj.encryptor is None or conn.sendRandKey
        if handshake_done and (not isinstance(message, str) or message == "readonly"):
            # Admin commands and read-only replicas are not part of raftha's surface.
            conn.disconnect()
            self._unknownConnections.discard(conn)
            return
        super()._onIncomingMessageReceived(conn, message)


class ReplicatedLogNode(SyncObj):
    """pysyncobj node with one replicated method carrying opaque bytes."""

    def __init__(self, settings: RaftSettings, conf: SyncObjConf,
                 applier: Callable[[int, bytes], None], stats: SyncStats) -> None:
        # Set before SyncObj.__init__: pysyncobj treats such attributes as internal.
        self._raftha_applier = applier
        self._raftha_holding_sends = False
        self._raftha_send_held = False
        self._raftha_just_applied = False
        self._raftha_commit_notice_due: float | None = None
        self._raftha_forwarded_index = 0   # the last entry a follower forwarded
        with _construction_lock:
            _construction_stats.append(stats)
            try:
                super().__init__(settings.self_address, list(settings.peer_addresses), conf,
                                 transportClass=HardenedTransport)
            finally:
                _construction_stats.clear()
        self._raftha_poll = self._poller.poll
        self._poller.poll = self._poll_until_due
        self.addOnTickCallback(self._send_commit_notice_when_due)

    def _poll_until_due(self, timeout: float) -> None:
        """The tick's final wait, at most `timeout`, ending when the next heartbeat or
        election is due. Computed here, at the end of the tick: before it, a heartbeat due
        now is still unsent, and a wait computed then woke the leader once more per period
        for nothing."""
        self._raftha_just_applied = False
        wait = min(timeout, tick_wait_seconds(self))
        due = self._raftha_commit_notice_due
        if due is not None:
            wait = max(0.0, min(wait, due - pysyncobj_syncobj.monotonicTime()))
        self._raftha_poll(wait)

    def _checkCommandsToApply(self) -> None:  # noqa: N802 - the library's name
        """Drain the proposal queue, replicate what it appended in one message per peer, then
        sync the journal.

        The library sends an AppendEntries after every command it appends: with proposals
        queued by several clients that is one message (and one acknowledgement) per command
        and follower. Sends are held while the queue drains and made once after; the
        followers' single syncs already cover a batch (group commit on disk and on the wire).
        """
        queued = self._SyncObj__commandsQueue._FastQueue__queue
        if not queued:
            return   # the library's drain would raise and catch an Empty on every tick
        forwarded = any(isinstance(callback, tuple) for _, callback in queued)
        self._raftha_holding_sends = True
        try:
            super()._checkCommandsToApply()
        finally:
            self._raftha_holding_sends = False
        if forwarded and self._SyncObj__raftState == LEADER_STATE:
            self._raftha_forwarded_index = self._SyncObj__raftLog[-1][1]
        if self._raftha_send_held:
            self._raftha_send_held = False
            self._SyncObj__sendAppendEntries()
            # The leader's own copy reaches the disk while the followers write theirs, in
            # parallel rather than one after the other. It counts itself for the commit
            # index only in a later tick, after the tick loop's pre-tick sync, so nothing
            # unsynced is ever counted; this sync just makes that one free.
            self.journal.sync()

    def _SyncObj__sendAppendEntries(self) -> None:  # noqa: N802 - the library's name
        # With proposals queued, the tick drains them next (`_checkCommandsToApply`) and
        # sends once after: a commit index or heartbeat sent now would only delay the new
        # entries by one message per follower, and theirs carries the same commit index.
        if self._raftha_holding_sends or self._SyncObj__commandsQueue._FastQueue__queue:
            self._raftha_send_held = True
            return
        if self._raftha_just_applied and self._may_delay_commit_notice():
            return
        self._raftha_commit_notice_due = None
        SyncObj._SyncObj__sendAppendEntries(self)

    def _SyncObj__applyLogEntries(self) -> bool:  # noqa: N802 - the library's name
        applied = SyncObj._SyncObj__applyLogEntries(self)
        self._raftha_just_applied = applied
        return applied

    def _may_delay_commit_notice(self) -> bool:
        """Whether the message that only tells the followers a new commit index may wait up
        to `COMMIT_NOTICE_DELAY_SECONDS` (a tick callback sends it then): entries proposed
        meanwhile carry it for free. Never when a heartbeat is due, nor when an entry a
        follower forwarded was just committed (that follower waits to apply it)."""
        self._raftha_just_applied = False
        now = pysyncobj_syncobj.monotonicTime()
        if now > self._SyncObj__newAppendEntriesTime:
            return False
        forwarded = self._raftha_forwarded_index
        if forwarded and self._SyncObj__raftCommitIndex >= forwarded:
            self._raftha_forwarded_index = 0
            return False
        if self._raftha_commit_notice_due is None:
            self._raftha_commit_notice_due = now + COMMIT_NOTICE_DELAY_SECONDS
        return True

    def _send_commit_notice_when_due(self) -> None:
        """Tick callback: send a delayed commit index once its moment has come."""
        due = self._raftha_commit_notice_due
        if due is not None and pysyncobj_syncobj.monotonicTime() >= due:
            self._raftha_commit_notice_due = None
            if self._SyncObj__raftState == LEADER_STATE:
                SyncObj._SyncObj__sendAppendEntries(self)

    @replicated
    def apply_entry(self, entry: bytes) -> int:
        index = self.raftLastApplied + 1
        self._raftha_applier(index, entry)
        return index

    @property
    def journal(self) -> DurableFileJournal:
        return self._SyncObj__raftLog

    @property
    def transport(self) -> HardenedTransport:
        return self._SyncObj__transport


def skip_entries_already_held(message: dict, journal: Any) -> dict:
    """Rewrite an AppendEntries so that pysyncobj does not cut entries this follower holds.

    pysyncobj truncates a follower's log after `prevLogIdx` whenever the follower holds more,
    not only on a conflict as Raft requires; a resend from an older position (after a late
    reset) then cuts entries already applied and appends them again. When the follower's
    whole log is known to match the leader's, the message is moved to start after the
    follower's last entry instead. The log is known to match when every entry it holds past
    `prevLogIdx` equals the one sent, and the message reaches past its end; or when its last
    entry carries the sender's current term (one leader per term, which never drops its own
    entries: by Log Matching everything before it matches too). Otherwise the message is
    left as it is. Pure apart from reading `journal` (entries are (command, index, term)).
    """
    if "prevLogIdx" not in message or message.get("transmission") is not None:
        return message
    length = len(journal)
    previous_index = message["prevLogIdx"]
    if length == 0 or previous_index is None:
        return message
    first_index = journal[0][1]
    _, last_index, last_term = journal[length - 1]
    if not first_index <= previous_index < last_index:
        return message
    if journal[previous_index - first_index][2] != message.get("prevLogTerm"):
        return message  # mismatch: the library asks the leader to back up
    entries = message.get("entries") or []
    sent_up_to = entries[-1][1] if entries else previous_index
    whole_log_matches = last_term == message.get("term")
    if not whole_log_matches:
        if sent_up_to < last_index:
            return message
        for _, index, term in entries:
            if index <= last_index and journal[index - first_index][2] != term:
                return message  # a real conflict: the library truncates from there
    trimmed = dict(message)
    trimmed["prevLogIdx"] = last_index
    trimmed["prevLogTerm"] = last_term
    trimmed["entries"] = [entry for entry in entries if entry[1] > last_index]
    return trimmed


def prune_abandoned_callbacks(node: SyncObj, now: float) -> int:
    """Forget callbacks pysyncobj will never call, or whose caller gave up long ago.

    The library keeps a callback until its index is applied or its forwarded command is
    answered; some of these never happen (an index skipped by a snapshot, a reply lost with
    a reconnected link), so without pruning the maps grow for the life of the process.
    Runs on the tick thread. Returns how many callbacks were dropped.
    """
    dropped = 0
    waiting_commit = node._SyncObj__commandsWaitingCommit
    last_applied = node.raftLastApplied
    for index in list(waiting_commit):
        subscribers = waiting_commit[index]
        kept = [] if index <= last_applied else [
            (term, callback) for term, callback in subscribers if not _abandoned(callback, now)]
        dropped += len(subscribers) - len(kept)
        if kept:
            waiting_commit[index] = kept
        else:
            del waiting_commit[index]
    waiting_reply = node._SyncObj__commandsWaitingReply
    for request_id in [key for key, callback in waiting_reply.items()
                       if _abandoned(callback, now)]:
        del waiting_reply[request_id]
        dropped += 1
    return dropped


def _abandoned(callback: Any, now: float) -> bool:
    deadline = getattr(callback, "abandon_after", None)
    return deadline is not None and deadline < now


def tick_wait_seconds(node: SyncObj) -> float:
    """How long the next tick may wait for network events before it must run anyway.

    A leader must send its next heartbeat on time; a follower or candidate must notice its
    election deadline. Anything else wakes the poll itself: a message, or a proposal (the
    library's pipe notifier). A fixed short wait woke an idle node about twice per
    heartbeat for nothing. A due time already past (a follower that reaches no peer cannot
    start an election) falls back to the plain period so the loop never spins.
    """
    if node._SyncObj__raftState == LEADER_STATE:
        due = node._SyncObj__newAppendEntriesTime
    else:
        due = node._SyncObj__raftElectionDeadline
    remaining = due - pysyncobj_syncobj.monotonicTime()  # the library's clock, not ours
    if remaining <= 0:
        return TICK_WAIT_SECONDS
    return min(remaining + TICK_DUE_MARGIN_SECONDS, MAX_TICK_WAIT_SECONDS)


def install_peer_ping(node: ReplicatedLogNode, period_ms: int) -> None:
    """Every period, send a message of a type pysyncobj ignores to every connected peer
    except the known leader; a leader sends none. Links to and from a leader carry its
    heartbeats and their acknowledgements, so only links between non-leaders go idle."""
    period_seconds = period_ms / 1000.0
    last_sent = [0.0]
    transport = node.transport

    def ping() -> None:
        now = time.monotonic()
        if now - last_sent[0] < period_seconds:
            return
        last_sent[0] = now
        if node._isLeader():
            return
        leader = node._getLeader()
        for peer in node.otherNodes:
            if peer != leader:
                transport.send(peer, {"type": PING_MESSAGE_TYPE})

    node.addOnTickCallback(ping)
