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

for name, fn in pairs(dsl) do env[name] = fn end
env._G = env
return env
