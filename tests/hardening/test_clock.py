"""The daemon's clock: the clock-fault file contract, and that daemon code reads time only
through it (event timestamps, proposal deadlines, leader duty timing, lifetimes)."""

from __future__ import annotations

import json
import pathlib

import pytest
from test_daemon_unit import fake_cluster  # noqa: F401 - the fixture

from jepsen.clockhook import HookedClock as ReferenceClock
from raftha.daemon import clock
from raftha.daemon.clock import FakeClock, HookedClock, SystemClock, clock_from_environment


class RealTime:
    """Stand-in for the machine's clocks, moved by the test."""

    def __init__(self) -> None:
        self.monotonic = 5_000_000_000
        self.wall = 1_700_000_000_000_000_000

    def monotonic_ns(self) -> int:
        return self.monotonic

    def wall_ns(self) -> int:
        return self.wall

    def advance_ms(self, milliseconds: int) -> None:
        self.monotonic += milliseconds * 1_000_000
        self.wall += milliseconds * 1_000_000


def write(path: pathlib.Path, text: str) -> None:
    path.write_text(text)


@pytest.fixture
def restore_clock():
    yield
    clock.use_clock(None)


def test_offset_moves_the_wall_clock_and_rate_only_the_monotonic_one(tmp_path):
    fault = tmp_path / "clock.json"
    real = RealTime()
    hooked = HookedClock(fault, real.monotonic_ns, real.wall_ns)
    assert hooked.wall_ms() == real.wall // 1_000_000  # no file: no fault
    start = hooked.monotonic()
    write(fault, json.dumps({"offset_ms": -60_000, "rate": 2.0}))
    real.advance_ms(150)  # past the re-read period
    assert hooked.wall_ms() == real.wall // 1_000_000 - 60_000
    before = hooked.monotonic()
    real.advance_ms(1000)
    assert hooked.monotonic() - before == pytest.approx(2.0, abs=1e-6)
    assert before >= start


def test_the_monotonic_clock_never_goes_backwards_when_the_rate_changes(tmp_path):
    fault = tmp_path / "clock.json"
    real = RealTime()
    hooked = HookedClock(fault, real.monotonic_ns, real.wall_ns)
    readings = []
    for step, rate in enumerate([10, 0.1, 3, 0.5, 1, 7, 0.1]):
        write(fault, json.dumps({"rate": rate, "offset_ms": step * 1000}))
        for _ in range(5):
            real.advance_ms(60)
            readings.append(hooked.monotonic())
    assert readings == sorted(readings)
    assert readings[-1] > readings[0]


def test_the_file_is_read_at_most_every_100_ms(tmp_path):
    fault = tmp_path / "clock.json"
    real = RealTime()
    hooked = HookedClock(fault, real.monotonic_ns, real.wall_ns)
    hooked.wall_ms()
    write(fault, json.dumps({"offset_ms": 5000}))
    real.advance_ms(50)
    assert hooked.wall_ms() == real.wall // 1_000_000  # not re-read yet
    real.advance_ms(60)
    assert hooked.wall_ms() == real.wall // 1_000_000 + 5000


@pytest.mark.parametrize("text", ["", "{", "[1]", '{"offset_ms": "x"}', '{"rate": null}'])
def test_an_unusable_file_means_no_fault(tmp_path, text):
    fault = tmp_path / "clock.json"
    write(fault, text)
    real = RealTime()
    hooked = HookedClock(fault, real.monotonic_ns, real.wall_ns)
    assert hooked.wall_ms() == real.wall // 1_000_000
    before = hooked.monotonic()
    real.advance_ms(1000)
    assert hooked.monotonic() - before == pytest.approx(1.0, abs=1e-6)


def test_readings_match_the_harness_reference_clock(tmp_path):
    fault = tmp_path / "clock.json"
    real = RealTime()
    ours = HookedClock(fault, real.monotonic_ns, real.wall_ns)
    reference = ReferenceClock(fault, real.monotonic_ns, real.wall_ns)
    for rate, offset_ms in [(1, 0), (4, 2500), (0.25, -900), (100, 10), (0.01, 0), (1, 0)]:
        write(fault, json.dumps({"offset_ms": offset_ms, "rate": rate}))
        for _ in range(4):
            real.advance_ms(70)
            assert ours.wall_ms() == reference.wall_ms()
            assert ours.monotonic() == pytest.approx(reference.monotonic_ns() / 1e9, abs=1e-6)


def test_the_environment_chooses_the_hooked_clock(tmp_path):
    assert isinstance(clock_from_environment({}), SystemClock)
    chosen = clock_from_environment({clock.ENVIRONMENT_VARIABLE: str(tmp_path / "c.json")})
    assert isinstance(chosen, HookedClock)


def test_events_carry_the_daemons_clock(fake_cluster, restore_clock):  # noqa: F811
    _, nodes = fake_cluster
    fake = FakeClock(wall_ms=1_800_000_000_123)
    clock.use_clock(fake)
    node = nodes["n2"]
    index = node.call("property_set", name="batch-limit", value="3")["index"]
    rows = node.history.rows(10)[0]
    row = next(row for row in rows if row.index == index)
    assert row.ts_ms == 1_800_000_000_123
    fake.set_wall_ms(1_800_000_500_000)
    node.call("property_set", name="batch-limit", value="4")
    assert node.machine.state.now_ms == 1_800_000_500_000


def test_a_move_lifetime_ends_by_the_daemons_wall_clock(fake_cluster, restore_clock):  # noqa: F811
    _, nodes = fake_cluster
    fake = FakeClock(wall_ms=1_800_000_000_000)
    clock.use_clock(fake)
    node = nodes["n1"]
    node.call("configure_load", text="primitive r1 ocf:heartbeat:Dummy")
    node.call("resource_move", resource="r1", node="n2", lifetime="1h")
    shown = node.call("configure_show")["text"]
    # 1 800 000 000 s + 3600 s is 2027-01-15 09:00:00 UTC.
    assert "2027-01-15 09:00:00Z" in shown


def test_leader_duties_read_the_daemons_monotonic_clock(fake_cluster, restore_clock):  # noqa: F811
    _, nodes = fake_cluster
    clock.use_clock(FakeClock(monotonic_s=4242.0))
    duties = nodes["n1"].duties
    seen: list[float] = []

    def record(now: float) -> None:
        seen.append(now)
        duties.stopping.set()

    duties.step = record
    duties.loop()  # one period, then the recorded step stops it
    assert seen == [4242.0]
