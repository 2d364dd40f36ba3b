-- expect: tests/errors/memory_hog.lua: spec uses more than 64 MiB of memory; kiln stops specs there
-- A spec that allocates without end is stopped.
local t = {}
for i = 1, 1e9 do t[i] = ("x"):rep(1000) .. i end
