-- expect: tests/errors/prelude_xpcall.lua:4: bad argument #2 to 'xpcall' (function expected, got number)
-- Errors raised inside kiln's prelude (its xpcall wrapper) name the spec's line, not the prelude's.
local function f() end
xpcall(f, 5)
