-- expect: tests/errors/sandbox_dofile.lua:3: attempt to call a nil value (global 'dofile')
-- A spec cannot run other files.
dofile("/etc/passwd")
