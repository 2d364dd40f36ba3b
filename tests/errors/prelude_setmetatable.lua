-- expect: tests/errors/prelude_setmetatable.lua:3: bad argument #1 to 'setmetatable' (table expected, got kiln.value)
-- Errors raised inside kiln's prelude (its setmetatable wrapper) name the spec's line, not the prelude's.
setmetatable(linear(2), {})
