-- expect: tests/errors/sandbox_os.lua:3: attempt to index a nil value (global 'os')
-- A spec cannot run commands.
os.execute("touch /tmp/kiln_pwned")
