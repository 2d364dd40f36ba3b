-- expect: tests/errors/sandbox_io.lua:3: attempt to index a nil value (global 'io')
-- A spec cannot read or write files.
local f = io.open("/etc/passwd")
