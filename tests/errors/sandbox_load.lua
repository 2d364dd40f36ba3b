-- expect: tests/errors/sandbox_load.lua:3: attempt to call a nil value (global 'load')
-- A spec cannot compile text chunks.
load("return 1")
