"""The guards' tokenizers against independent readers: every TSP chunk the Lua tokenizer
accepts is compiled and run by a real Lua (lupa, Lua 5.1) with recording tables, and must
assign exactly what the guard parsed; SCPI framing is the emulators' own (one shared lexer),
checked here against IEEE 488.2 examples."""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.instruments.ieee488 import program_messages, split_header, split_outside
from ftjlab.instruments.lua_lexer import Assign, LuaRefusal, parse_chunk, tokenize
from lupa import lua51

_PIECES = [
    "smua.source.levelv", "=", "0.1", "5", "--[[x]]", "--[==[ ]==]", "*", "10", "\t", " ",
    "smub.source.limiti", "1e-6", ";", ";;", "print(1)", '"a"', "'(b'", "[[c]]", "[=[d]=]",
    "-", ".5", "5.", "0x10", "--", "\n", "x", ",", "(", ")", "{", "}", "..", "and", "local",
    "1e", "1e+2", "smua.source.output", "smua.OUTPUT_ON", "--[[ [[ ]] ]]", "#", "%", "\\",
    "\x01", "\x0b", "f()", ".", "[", "]", "1", "smua", "source", "levelv",
]


_TARGETS = ["smua.source.levelv", "smub.source.limiti", "x", "smua.source.output",
            "smua . source . levelv", "smua.source.--[[c]]levelv", "smua[1]"]
_VALUES = ["5", ".5", "5.", "1e-6", "1e+2", "-5", "- 5", "0.25", "smua.OUTPUT_ON", '"a"',
           "{1, 2}", "f()", "5e0", "0.1e1", "007", "2.50E-3", "true", "nil"]
_GAPS = [" ", "\t", "--[[x]]", " --[[ y ]] ", "--[=[z]=]", "--[[]]"]


_RECORDER = lua51.LuaRuntime().execute(
    """
    return function(code)
      local log = {}
      local function node(path)
        return setmetatable({}, {
          __index = function(t, k)
            if type(k) == "string" and k:match("^[A-Z_]+$") then return path .. "." .. k end
            local child = node(path .. "." .. tostring(k)); rawset(t, k, child); return child
          end,
          __newindex = function(t, k, v) log[#log + 1] = {path .. "." .. tostring(k), v} end,
          __call = function() return 0 end,
        })
      end
      local globals = {print = function() end}
      local env = setmetatable({}, {
        __index = function(t, k)
          if globals[k] == nil then globals[k] = node(k) end
          return globals[k]
        end,
        __newindex = function(t, k, v) log[#log + 1] = {k, v}; globals[k] = v end,
      })
      local fn = loadstring(code)
      if fn == nil then return nil end
      setfenv(fn, env)
      pcall(fn)
      return log
    end
    """
)


def _lua_assignments(chunk: str) -> list[tuple[str, object]] | None:
    """Run ``chunk`` in Lua with recording tables; None if Lua does not compile it."""
    log = _RECORDER(chunk)
    if log is None:
        return None
    return [(entry[1], entry[2]) for entry in log.values()]


def test_every_chunk_the_tokenizer_accepts_is_lua_that_assigns_what_the_guard_read():
    rng = np.random.default_rng(2)
    accepted = compared = 0
    for _ in range(4000):
        if rng.random() < 0.5:  # random pieces
            parts = rng.choice(_PIECES, int(rng.integers(1, 9)))
            chunk = " ".join(parts) if rng.random() < 0.5 else "".join(parts)
        else:  # assignments with spelled values, comments between any two tokens
            tokens = [rng.choice(_TARGETS), "=", rng.choice(_VALUES)]
            if rng.random() < 0.5:
                tokens += [rng.choice(["", ";"]), rng.choice(_TARGETS), "=",
                           rng.choice(_VALUES)]
            chunk = ""
            for token in tokens:
                chunk += token + (rng.choice(_GAPS) if rng.random() < 0.6 else " ")
        chunk = chunk.split("\n")[0]  # one chunk = one line, as the instrument frames it
        try:
            statements = parse_chunk(chunk)
        except LuaRefusal:
            continue
        accepted += 1
        lua = _lua_assignments(chunk)
        assert lua is not None, f"the guard accepted {chunk!r}, which Lua cannot compile"
        mine = [(".".join(str(p) for p in s.target.parts), s.value)
                for s in statements if isinstance(s, Assign)]
        theirs = [(path, value) for path, value in lua]
        assert [p for p, _ in mine] == [p for p, _ in theirs], chunk
        for (_, ours), (_, real) in zip(mine, theirs, strict=True):
            if isinstance(ours, float):
                compared += 1
                assert real == pytest.approx(ours, rel=0, abs=0), chunk
    assert accepted >= 200 and compared >= 100, (accepted, compared)


@pytest.mark.parametrize(
    "chunk",
    [
        "smua.source.levelv = 0.1 --[==[ ]==] * 50",  # level-2 comment: Lua 5.0 reads -- ...
        'print("(") smua.source.levelv, x_ = 5, 1',
        "smua.source.levelv = 0x5",
        "smua.source.levelv = 0.1;; smua.source.levelv = 5",
        "smua.source.levelv = 5\x01",
        "smua.source.levelv = [==[5]==]",
        "smua.source.levelv = 1e",
        "smua.source.levelv = '\\065'",
    ],
)
def test_forms_where_readers_could_differ_are_refused(chunk):
    with pytest.raises(LuaRefusal):
        parse_chunk(chunk)


def test_comments_and_strings_are_tokens_not_code():
    assert [t.value for t in tokenize('print("reset()") --[[ smua.source.levelv = 5 ]]')] == [
        "print", "(", "reset()", ")"]


def test_ieee488_framing():
    # LF ends a program message; a CR before it is white space
    assert program_messages(":TRIG:COUN 1\nVOLT:HIGH 9") == [":TRIG:COUN 1", "VOLT:HIGH 9"]
    # a definite block counts its bytes: ';' and LF inside are data
    assert split_outside("*CLS;DATA #15a;b\nc;VOLT 1", ";") == ["*CLS", "DATA #15a;b\nc", "VOLT 1"]
    assert program_messages("DATA #15a;b\nc;VOLT 1") == ["DATA #15a;b\nc;VOLT 1"]
    # a malformed block header is not a block: ';' separates
    assert split_outside("*CLS #1;:VOLT:HIGH 9", ";") == ["*CLS #1", ":VOLT:HIGH 9"]
    # an indefinite block runs to the final terminator
    assert program_messages("*CLS #0;*RST\n:OUTP OFF") == ["*CLS #0;*RST\n:OUTP OFF"]
    # every control character is white space ending the header
    assert split_header("VOLT\x019") == ("VOLT", "\x019")
    assert split_header(":PULS:WIDT1\x005e-9") == (":PULS:WIDT1", "\x005e-9")
