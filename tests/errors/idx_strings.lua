-- expect: tests/errors/idx_strings.lua: spec uses more than 64 MiB of memory; kiln stops specs there
-- The strings kiln copies out of Lua (idx{dir = ...}) count against the spec's memory cap: this loop used to take gigabytes.
local dir = ("x"):rep(4000)
for i = 1, 1e9 do idx { dir = dir } end
