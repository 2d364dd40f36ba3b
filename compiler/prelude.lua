-- prelude.lua — builds the sandbox a kiln spec runs in.
--
-- kiln (C) runs this once with its full standard library, passing a table
-- of DSL constructors (one per op in its registry, plus model and print).
-- It returns the environment the spec sees: those constructors and a safe
-- subset of Lua.  There is no os, io, require, dofile, loadfile, load,
-- collectgarbage or debug: a spec from someone else cannot touch the machine.
local dsl = ...

local env = {}
for _, name in ipairs {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
  "rawlen", "rawset", "select", "setmetatable", "getmetatable", "tonumber",
  "tostring", "type", "xpcall",
} do
  env[name] = _G[name]
end
env._VERSION = _VERSION

-- Libraries are copied so a spec can't reach the real tables; string.dump
-- (bytecode out, the way back in for load) goes from the shared one too,
-- since ("").dump reaches it through the string metatable.
string.dump = nil
for _, lib in ipairs { "math", "string", "table", "utf8" } do
  local copy = {}
  for k, v in pairs(_G[lib]) do copy[k] = v end
  env[lib] = copy
end

-- Finalizers run where kiln's instruction limit cannot reach them (Lua turns
-- hooks off inside __gc), so a spec may not install any.
env.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc finalizers are not allowed in a spec", 2)
  end
  return setmetatable(t, mt)
end

-- Once the instruction limit is hit, pcall and xpcall pass its error on: a
-- spec cannot catch it and keep running.
local limit_hit = dsl._limit_hit
dsl._limit_hit = nil
local function pass_limit(...)
  local msg = limit_hit()
  if msg then error(msg, 0) end
  return ...
end
env.pcall = function(...) return pass_limit(pcall(...)) end
env.xpcall = function(f, handler, ...)
  if type(handler) ~= "function" then return xpcall(f, handler, ...) end   -- its own error
  local function guarded(e)   -- past the limit the spec's handler does not run
    if limit_hit() then return e end
    return handler(e)
  end
  return pass_limit(xpcall(f, guarded, ...))
end

for name, fn in pairs(dsl) do env[name] = fn end
env._G = env
return env
