-- expect: tests/errors/sandbox_dump.lua:3: attempt to call a nil value (method 'dump')
-- string.dump is gone, even through the string metatable.
local code = ("x"):dump()
