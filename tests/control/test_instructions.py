from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galileo.control import instructions as ins
from galileo.control.instructions import Dialect, parse_line, parse_script
from galileo.errors import InstructionError

C, R = Dialect.CONTROLLER, Dialect.RTBL


def test_controller_script() -> None:
    steps = parse_script("""
# a comment
spawn pico[0-9] squeezenet 3   # trailing comment
rps 'pico*' squeezenet 2.5

sleep 500ms
close pico* squeezenet
exp start 202401011200-abcd
exp stop
echo hello   world
hosts
""", C)
    assert [s.line for s in steps] == [3, 4, 6, 7, 8, 9, 10, 11]
    assert [s.instruction for s in steps] == [
        ins.Spawn("pico[0-9]", "squeezenet", 3), ins.Rps("pico*", "squeezenet", 2.5),
        ins.Sleep(0.5), ins.Close("pico*", "squeezenet"), ins.ExpStart("202401011200-abcd"),
        ins.ExpStop(), ins.Echo("hello   world"), ins.Hosts()]
    assert parse_line("spawn h s", C) == ins.Spawn("h", "s", 1)


def test_rtbl_script() -> None:
    steps = parse_script("set api h1:8080,h2:8080 1,2\nset web h:1\nunset api\nupdates 2s\n", R)
    assert steps[0].instruction == ins.SetRoute("api", ("h1:8080", "h2:8080"), (1.0, 2.0))
    assert steps[1].instruction == ins.SetRoute("web", ("h:1",), (1.0,))
    assert steps[3].instruction == ins.Updates(2.0)


@pytest.mark.parametrize(("dialect", "text", "message"), [
    (C, "spawn", "line 2: usage: spawn HOST_PATTERN SERVICE [NUM]"),
    (C, "spawn h svc 0", "line 2: client count '0' must be a whole number >= 1"),
    (C, "rps h svc fast", "line 2: rate 'fast' is not a number"),
    (C, "rps h svc -1", "line 2: rate '-1' must be a finite number >= 0"),
    (C, "sleep forever", "line 2: duration 'forever' is not a number of seconds"),
    (C, "frobnicate", "line 2: unknown command 'frobnicate' (try: help)"),
    (C, "set a h:1 1", "line 2: unknown command 'set'"),
    (R, "spawn h s", "line 2: unknown command 'spawn'"),
    (R, "set api h1:80,h2:80 1", "line 2: routing record for 'api' has 2 hosts but 1 weights"),
    (R, "set api h1:80 0", "line 2: routing record for 'api': all weights are zero"),
    (R, "set api nohost 1", "line 2: routing record for 'api': bad host 'nohost'"),
    (C, "echo ok\nspawn 'h svc", "line 3: cannot split the line into words"),
    (C, "exp go", "line 2: usage: exp start [ID] | exp stop"),
    (C, "spawn h bad/name", "line 2: invalid service 'bad/name'"),
])
def test_bad_lines(dialect: Dialect, text: str, message: str) -> None:
    with pytest.raises(InstructionError) as exc:
        parse_script("# header\n" + text, dialect)
    assert str(exc.value).startswith(message)


names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")  # protocol.NAME_PATTERN
patterns = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
numbers = st.floats(min_value=0, max_value=1e9, allow_nan=False)
hostports = st.builds(lambda h, p: f"{h}:{p}", st.from_regex(r"\A[a-z][a-z0-9.-]{0,10}\Z"),
                      st.integers(1, 65535))

controller_instructions = st.one_of(
    st.builds(ins.Spawn, patterns, names, st.integers(1, 10_000)),
    st.builds(ins.Rps, patterns, names, numbers),
    st.builds(ins.Close, patterns, names),
    st.builds(ins.Sleep, numbers),
    st.builds(ins.ExpStart, st.none() | names),
    st.sampled_from([ins.Hosts(), ins.Clients(), ins.Info(), ins.PingWorkers(), ins.ExpStop(),
                     ins.Date(), ins.Exit(), ins.Help()]),
    st.builds(ins.Echo, st.from_regex(r"\A[^\s#'\"][^\n\r]{0,20}[^\s]\Z")),
)


@st.composite
def set_routes(draw: st.DrawFn) -> ins.SetRoute:
    hosts = draw(st.lists(hostports, min_size=1, max_size=4))
    weights = draw(st.lists(numbers, min_size=len(hosts), max_size=len(hosts)))
    weights[0] = weights[0] or 1.0
    return ins.SetRoute(draw(names), tuple(hosts), tuple(weights))


rtbl_instructions = st.one_of(
    set_routes(), st.builds(ins.Unset, names), st.builds(ins.Info, st.none() | names),
    st.builds(ins.Updates, st.none() | numbers),
    st.sampled_from([ins.ClearRoutes(), ins.ListRoutes(), ins.Flush()]),
)


@settings(max_examples=150, deadline=None)
@given(controller_instructions)
def test_controller_round_trip(i: ins.Instruction) -> None:
    assert parse_line(i.format(), C) == i


@settings(max_examples=100, deadline=None)
@given(rtbl_instructions)
def test_rtbl_round_trip(i: ins.Instruction) -> None:
    assert parse_line(i.format(), R) == i


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.sampled_from([C, R]))
def test_garbage_only_raises_instruction_error(text: str, dialect: Dialect) -> None:
    try:
        parse_script(text, dialect)
    except InstructionError as e:
        assert str(e).startswith(f"line {e.line}: ")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["spawn", "rps", "close", "set", "sleep", "exp", "start", "1",
                                 "-1", "h:1", "a,b", "1,2", "nan", "inf", "'", "#", "x y"]),
                max_size=5), st.sampled_from([C, R]))
def test_keyword_soup_only_raises_instruction_error(words: list[str], dialect: Dialect) -> None:
    try:
        parse_line(" ".join(words), dialect, 7)
    except InstructionError as e:
        assert e.line == 7
