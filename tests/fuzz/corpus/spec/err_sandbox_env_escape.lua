-- expect: tests/errors/sandbox_env_escape.lua:3: attempt to index a nil value (field 'os')
-- _G is the sandbox itself, not the real globals.
_G.os.exit(0)
