"""The SCPI core: mnemonics, suffixes, chains, relative paths, parameters, errors, status."""

from __future__ import annotations

import pytest
from ftjlab.simulators.scpi import (
    Boolean,
    Call,
    Choice,
    ErrorQueue,
    NoReply,
    Number,
    ScpiError,
    ScpiInstrument,
    String,
    definite_block,
    format_nr3,
    parse_pattern,
    repeat,
    split_outside,
    tokenize_parameters,
)
from test_scpi_helpers import ask, errors


class Toy(ScpiInstrument):
    """A two-channel toy instrument exercising the declarative features."""

    def __init__(self, depth: int = 10) -> None:
        self.volts = [0.0, 0.0]
        self.outputs = [False, False]
        self.mode = "IMM"
        self.name = ""
        self.listed: list = []
        self.triggers = 0
        self.resets = 0
        super().__init__(idn="ACME,TOY,123,1.0", error_queue_depth=depth, max_suffix=2)

    def _build(self) -> None:
        t = self.tree
        t.setting(
            "[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
            Number(-10.0, 10.0, default=1.0, units=("V",)),
            lambda s: self.volts[s[0] - 1],
            lambda s, v: self.volts.__setitem__(s[0] - 1, v),
            format_nr3,
        )
        t.setting(
            ":OUTPut#[:STATe]",
            Boolean(),
            lambda s: self.outputs[s[0] - 1],
            lambda s, v: self.outputs.__setitem__(s[0] - 1, v),
            lambda b: str(int(b)),
        )
        t.setting(
            ":ARM:SOURce",
            Choice("IMMediate", "INTernal2", "EXTernal", "MANual"),
            lambda s: self.mode,
            lambda s, v: setattr(self, "mode", v),
        )
        t.add(
            ":DISPlay:TEXT",
            set=lambda c: setattr(self, "name", c.args[0]),
            query=lambda c: self.name,
            params=(String(),),
        )
        t.add(
            ":LIST",
            set=lambda c: setattr(self, "listed", c.args),
            params=(Number(), repeat(Choice("READing", "RELative"))),
        )
        t.add(":PULSe:WIDTh#", set=lambda c: None, query=lambda c: f"ch{c.ch}")
        t.add(":CRASh", set=self._crash)
        t.add(":CLIP", set=lambda c: None, params=(Number(0.0, 1.0, out_of_range="clip_log"),))
        t.add(":SYSTem:ERRor[:NEXT]", query=lambda c: self.next_error().scpi())

    def _crash(self, call: Call) -> None:
        raise ZeroDivisionError("bug")

    def _reset_state(self) -> None:
        self.volts = [0.0, 0.0]
        self.resets += 1

    def _trigger(self) -> None:
        self.triggers += 1


@pytest.fixture
def toy() -> Toy:
    return Toy()


def test_short_long_forms_any_case_and_optional_nodes(toy):
    for cmd in (
        "SOUR:VOLT 1.5",
        ":source:voltage:level:immediate:amplitude 1.5",
        "volt 1.5",
        "Sour1:Volt:Lev 1.5",
        ":VOLTAGE:AMPL 1.5",
    ):
        toy.volts[0] = 0.0
        toy.write(cmd)
        assert toy.volts[0] == 1.5, cmd
    assert errors(toy) == []
    toy.write("SOURC:VOLT 1")  # neither short nor long form
    toy.write("VOLTA 1")
    assert errors(toy) == [-113, -113]


def test_numeric_suffixes_select_channels_and_are_range_checked(toy):
    toy.write("SOUR2:VOLT 3;:OUTP2 ON;:OUTPUT1 OFF")
    assert toy.volts == [0.0, 3.0] and toy.outputs == [False, True]
    assert ask(toy, "PULS:WIDT2?") == "ch2" and ask(toy, "PULS:WIDT?") == "ch1"
    toy.write("OUTP3 ON")
    toy.write("OUTP0 ON")
    toy.write(":ARM1:SOUR MAN")  # ARM has no suffix
    assert errors(toy) == [-114, -114, -113]


def test_chains_relative_paths_and_common_commands_in_between(toy):
    # after ":SOUR:VOLT", a header without ':' is relative to ":SOUR:"
    toy.write(":SOUR2:VOLT 1;VOLT 2;*TRG;VOLT:LEV 4")
    assert toy.volts == [0.0, 4.0]
    assert toy.triggers == 1
    assert ask(toy, ":SOUR2:VOLT?;VOLT?;:OUTP2?") == "+4.000000000000000E+00;" * 2 + "0"
    toy.write(":OUTP1 ON;OUTP2 ON")  # relative to the root: OUTP2 is valid there
    assert toy.outputs == [True, True]
    toy.write(":SOUR:VOLT 1;OUTP 1")  # relative: :SOUR:OUTP does not exist
    assert errors(toy) == [-113]
    toy.write("*RST;:*CLS;;")  # pymeasure's 2450 reset: ':*CLS', trailing ';'
    assert toy.resets == 1 and errors(toy) == []


def test_parameters_numbers_units_min_max_def(toy):
    cases = {
        "250 mV": 0.25,
        "2.5E-1": 0.25,
        "2.5 e -1": 0.25,
        ".5": 0.5,
        "+5": 5.0,
        "-1.5V": -1.5,
        "#H5": 5.0,
        "#B101": 5.0,
        "#Q7": 7.0,
        "MAX": 10.0,
        "minimum": -10.0,
        "DEF": 1.0,
        "1000 MV": 1.0,
    }
    for text, value in cases.items():
        toy.write(f"VOLT {text}")
        assert toy.volts[0] == pytest.approx(value), text
    assert ask(toy, "VOLT? MAX") == "+1.000000000000000E+01"
    assert ask(toy, "VOLT? MIN") == "-1.000000000000000E+01"
    assert errors(toy) == []
    toy.write("VOLT 5 S")  # wrong unit
    toy.write(":ARM:SOUR 5 V")
    toy.write(":CLIP 1 V")  # no unit allowed
    toy.write("VOLT 11")  # out of range, rejected: unchanged
    toy.write("VOLT ON")
    toy.write("VOLT 'a'")
    assert errors(toy) == [-131, -104, -138, -222, -141, -104]
    assert toy.volts[0] == 1.0


def test_booleans_choices_and_strings(toy):
    for text, value in (
        ("ON", True),
        ("off", False),
        ("1", True),
        ("0", False),
        ("0.6", True),
        ("2", True),
    ):
        toy.write(f"OUTP {text}")
        assert toy.outputs[0] is value, text
    for text, value in (
        ("IMM", "IMM"),
        ("immediate", "IMM"),
        ("INT2", "INT2"),
        ("INTERNAL2", "INT2"),
        ("man", "MAN"),
    ):
        toy.write(f":ARM:SOUR {text}")
        assert toy.mode == value
    assert ask(toy, ":ARM:SOUR?") == "MAN"
    toy.write(":DISP:TEXT 'it''s; here'")
    assert toy.name == "it's; here"
    toy.write(':DISP:TEXT "say ""hi"", ok";:OUTP ON')
    assert toy.name == 'say "hi", ok' and toy.outputs[0] is True
    toy.write(":LIST 3,READ,rel,READING")
    assert toy.listed == [3, "READ", "REL", "READ"]
    assert errors(toy) == []
    toy.write("OUTP MAYBE")
    toy.write(":ARM:SOUR INTERN")
    toy.write(":DISP:TEXT 'unterminated")
    assert errors(toy) == [-141, -141, -151]


def test_parameter_count_errors(toy):
    toy.write("VOLT")
    toy.write("VOLT 1,2")
    toy.write("*IDN? 1")
    toy.write("VOLT ,1")
    toy.write("VOLT 1,")
    assert errors(toy) == [-109, -108, -108, -102, -102]


def test_header_errors(toy):
    for bad in ("VOLT?:LEV 1", "1VOLT", "VO LT 1", "?", "*", ":", "VOLT.1", "*IDX?"):
        toy.write(bad)
    assert errors(toy) == [-102, -102, -113, -102, -102, -102, -102, -113]
    toy.write("ABCDEFGHIJKLM 1")
    assert errors(toy) == [-112]
    toy.write("OUTP:VOLT?")  # a query the tree does not have
    toy.write("*IDN")  # query-only common command sent as a command
    assert errors(toy) == [-113, -113]


def test_query_responses_are_joined_and_terminated(toy):
    assert ask(toy, "*IDN?;*OPC?;:OUTP?") == "ACME,TOY,123,1.0;1;0"
    toy.write("VOLT 1")
    with pytest.raises(NoReply):
        toy.read()


def test_unread_reply_is_interrupted_by_the_next_message(toy):
    toy.write("*IDN?")
    toy.write("*OPC?")
    assert toy.read() == b"1\n"
    assert errors(toy) == [-410]


def test_handler_exceptions_become_errors_and_are_recorded(toy):
    toy.write(":CRAS;*OPC?")
    assert toy.read() == b"1\n"  # the rest of the message still runs
    assert errors(toy) == [-200]
    assert len(toy.internal_faults) == 1 and "ZeroDivisionError" in toy.internal_faults[0]


def test_clip_log_policy_clips_and_logs(toy):
    toy.write(":CLIP 5")
    assert ask(toy, ":SYST:ERR?") == '-222,"Data out of range;value clipped to upper limit"'


def test_error_queue_is_fifo_and_empty_reads_no_error(toy):
    toy.write("BAD1;VOLT 99;VOLT")
    assert ask(toy, ":SYST:ERR?") == '-113,"Undefined header"'
    assert ask(toy, ":SYST:ERR?") == '-222,"Data out of range"'
    assert ask(toy, ":SYST:ERR?") == '-109,"Missing parameter"'
    assert ask(toy, ":SYST:ERR?") == '0,"No error"'


def test_error_queue_overflow_keeps_first_entries_and_marks_the_last():
    toy = Toy(depth=5)
    for _ in range(8):
        toy.write("NOPE")
    toy.write(";".join(["VOLT 99"] * 3))
    codes = errors(toy)
    assert codes == [-113, -113, -113, -113, -350]
    toy.write("NOPE")  # room again after reading
    assert errors(toy) == [-113]


def test_cls_clears_errors_rst_does_not(toy):
    toy.write("NOPE;NOPE")
    toy.write("*RST")
    assert len(toy.errors) == 2
    toy.write("*CLS")
    assert errors(toy) == []


def test_power_on_reset_clears_everything(toy):
    toy.write("NOPE")
    toy.write("*IDN?")
    toy.volts[0] = 3.0
    toy.reset()
    assert toy.volts[0] == 0.0 and len(toy.errors) == 0 and not toy.reply_pending


def test_status_byte_and_event_status_register(toy):
    assert int(ask(toy, "*ESR?")) & 128  # power-on
    assert ask(toy, "*ESR?") == "0"  # reading clears it
    toy.write("NOPE")
    assert int(ask(toy, "*STB?")) & 4  # error available
    toy.write("*ESE 32;*SRE 32")
    stb = int(ask(toy, "*STB?"))
    assert stb & 32 and stb & 64  # command error -> ESB -> MSS
    assert int(ask(toy, "*ESR?")) & 32
    toy.write("*CLS;*OPC")
    assert ask(toy, "*ESR?") == "1"
    toy.write("VOLT 99")
    assert int(ask(toy, "*ESR?")) & 16  # execution error
    assert ask(toy, "*ESE?;*SRE?") == "32;32"


def test_never_raises_on_odd_input(toy):
    for junk in (
        "",
        ";;;",
        "\x00\x01\x02",
        "VOLT #0\n\x00\xff",
        "é",
        "VOLT " + "9" * 500,
        "(((",
        "VOLT (1,2",
        "#2" + "x" * 5,
        b"*IDN?\xff".decode("latin-1"),
        "VOLT 1e999",
        "VOLT -1e999",
        ":" * 100,
        "A:" * 100 + "B",
        "'" * 33,
    ):
        toy.write(junk)
    while toy.reply_pending:
        toy.read()
    assert toy.internal_faults == []
    assert set(errors(toy)) <= {-101, -102, -104, -108, -112, -113, -151, -161, -222, -350}


# ---------------------------------------------------------------------------- building blocks


def test_split_outside_respects_strings_blocks_and_expressions():
    assert split_outside("A 'x;y';B", ";") == ["A 'x;y'", "B"]
    assert split_outside('A "x"";y";B', ";") == ['A "x"";y"', "B"]
    assert split_outside("A #14a;bc;B", ";") == ["A #14a;bc", "B"]
    assert split_outside("A (1;2);B", ";") == ["A (1;2)", "B"]
    assert split_outside("A #0x;y;z", ";") == ["A #0x;y;z"]
    assert split_outside("A 'open;B", ";") == ["A 'open;B"]


def test_tokens():
    toks = tokenize_parameters(" 1.5 mV , 'a,b' , ON, #15hello, (@1:3), #HFF")
    assert [t.kind for t in toks] == ["number", "string", "chars", "block", "expr", "number"]
    assert toks[0].value == 1.5 and toks[0].suffix == "MV"
    assert toks[1].value == "a,b" and toks[3].value == b"hello" and toks[5].value == 255.0


def test_pattern_parsing():
    nodes = parse_pattern("[:SOURce#]:VOLTage[:LEVel]")
    assert [(n.short, n.long, n.optional, n.suffix) for n in nodes] == [
        ("SOUR", "SOURCE", True, True),
        ("VOLT", "VOLTAGE", False, False),
        ("LEV", "LEVEL", True, False),
    ]
    assert parse_pattern("TRACe:STATistics:PK2Pk")[-1].short == "PK2P"
    with pytest.raises(ValueError):
        parse_pattern("[:OPT]")


def test_error_queue_unit():
    q = ErrorQueue(3, clock=lambda: 1.5)
    for code in (-1, -2, -3, -4):
        q.push(code, "x")
    assert [e.code for e in q.peek_all()] == [-1, -2, -350]
    assert q.pop().time_s == 1.5
    assert ScpiError(-222).code == -222


def test_blocks_and_nr3():
    assert definite_block(b"abc") == b"#13abc"
    assert definite_block(b"x" * 12) == b"#212" + b"x" * 12
    assert format_nr3(1.000000000000014e-08) == "+1.000000000000000E-08"
    assert format_nr3(float("inf")) == "+9.9E+37"


def test_remembered_headers_answer_as_the_first_time(toy):
    """Headers and paths are remembered once parsed and found: the second and third pass of
    the same messages (valid, relative, out-of-range suffixes, unknown headers) give the same
    state and errors as the first; a command registered later replaces a remembered one."""
    messages = [":SOUR2:VOLT 1;VOLT 2", "SOUR1:VOLT 3", "OUTP3 ON", "OUTP2 ON;OUTP0 ON",
                ":SOUR:VOLT 1;OUTP 1", "VOLTA 1", "ABCDEFGHIJKLM 1", "VOLT?:LEV 1", "*IDX?"]
    outcomes = []
    for _ in range(3):
        toy.volts, toy.outputs = [0.0, 0.0], [False, False]
        for message in messages:
            toy.write(message)
        outcomes.append((list(toy.volts), list(toy.outputs), errors(toy)))
    assert outcomes[0] == ([1.0, 2.0], [False, True], [-114, -114, -113, -113, -112, -102,
                                                       -113])
    assert outcomes[1] == outcomes[0] == outcomes[2]
    assert ask(toy, "PULS:WIDT2?") == "ch2"
    toy.tree.add(":PULSe:WIDTh#", query=lambda c: f"new{c.ch}")
    assert ask(toy, "PULS:WIDT2?") == "new2"
