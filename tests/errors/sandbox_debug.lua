-- expect: tests/errors/sandbox_debug.lua:3: attempt to index a nil value (global 'debug')
-- A spec cannot reach the debug library.
debug.sethook()
