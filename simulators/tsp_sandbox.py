"""The sandbox of the TSP runtime (:mod:`.tsp`): the privileged Lua set up first, the globals
then removed, the runaway guard's limits and messages."""

from __future__ import annotations

#: The instrument's memory for scripts and data: a Lua heap (after a full collection) above
#: it ends a command with "not enough memory" (the runaway guard, and after each command).
MAX_LUA_MEMORY_BYTES = 64 * 1024 * 1024
#: lupa's own cap stays this far above the larger of that and the heap: an allocation that
#: fails inside a call into Python (converting its result) leaves lupa waiting for the GIL
#: its own thread holds - the whole process hangs - so calls into Python must never meet it.
LUPA_HEADROOM_BYTES = 64 * 1024 * 1024
HOOK_INSTRUCTIONS = 10_000

# ---------------------------------------------------------------------------- the sandbox

# Runs once per runtime with the full standard library, then the globals it names are removed.
# The privileged functions it returns keep what they need in upvalues, which sandboxed code
# cannot reach (no debug library).
SANDBOX_SETUP = r"""
local over_time, abort_message, memory_message = ...
local sethook, error, pcall, xpcall, select, unpack, type =
    debug.sethook, error, pcall, xpcall, select, unpack, type
local cocreate, coresume = coroutine.create, coroutine.resume
local loadstring, setmetatable, collect = loadstring, setmetatable, collectgarbage
local aborted = false
local COUNT, LIMIT_KB = @COUNT@, @LIMIT_KB@

local function hook()
  if aborted or over_time() then
    aborted = true
    error(abort_message, 0)
  end
  if collect("count") > LIMIT_KB then  -- the instrument's memory: see MAX_LUA_MEMORY_BYTES
    collect("collect")
    if collect("count") > LIMIT_KB then
      aborted = true
      error(memory_message, 0)
    end
  end
end
local function pack(...) return {n = select('#', ...), ...} end
local function recheck(r)
  -- an error past the deadline (the watchdog's, in a call into Python) ends the chunk too
  if aborted or (not r[1] and over_time()) then
    aborted = true
    error(abort_message, 0)
  end
  return unpack(r, 1, r.n)
end

local api = {}
api.pcall = function(...) return recheck(pack(pcall(...))) end
api.xpcall = function(...) return recheck(pack(xpcall(...))) end
api.cocreate = function(f)
  local co = cocreate(f)
  sethook(co, hook, "", COUNT)
  return co
end
api.cowrap = function(f)
  local co = api.cocreate(f)
  return function(...)
    local r = pack(coresume(co, ...))
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end
api.compile = function(code, name) return loadstring(code, name) end
api.run = function(fn)
  aborted = false
  local ok, err = pcall(fn)
  aborted = false
  return ok, err
end
-- the count hook stays on: outside a run the deadline is infinite and it never aborts
sethook(hook, "", COUNT)
local anchors = {}
api.anchor = function(o) anchors[#anchors + 1] = o end
api.script = function(name, fn, source)
  local s = {name = name, source = source, run = fn}
  return setmetatable(s, {__call = function(self, ...) return fn(...) end})
end
-- lupa's table of the userdata of Python objects (see TSPEmulator._sweep): strong, weak only
-- while api.sweep collects
local refs = debug.getregistry()["LUPA_PYTHON_REFERENCES_TABLE"]
local weak, strong = refs and getmetatable(refs), {}
if weak then setmetatable(refs, strong) end
api.sweep = function()
  if weak then setmetatable(refs, weak) end
  collect("collect")
  if weak then setmetatable(refs, strong) end
end
return api
""".replace("@COUNT@", str(HOOK_INSTRUCTIONS)).replace(
    "@LIMIT_KB@", str(MAX_LUA_MEMORY_BYTES // 1024))

REMOVED_GLOBALS = (
    "os",
    "io",
    "require",
    "package",
    "module",
    "load",
    "loadstring",
    "dofile",
    "loadfile",
    "debug",
    "collectgarbage",
    "getfenv",
    "setfenv",
    "newproxy",
    "gcinfo",
    "python",
)
ABORT_MESSAGE = "script aborted: ran longer than the execution limit"
MEMORY_MESSAGE = "not enough memory"
