-- expect: tests/errors/sandbox_loadfile.lua:3: attempt to call a nil value (global 'loadfile')
-- A spec cannot load other files.
loadfile("/etc/passwd")
