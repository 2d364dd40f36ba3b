-- expect: tests/errors/sandbox_dofile.lua:3: 'dofile' is not available in a spec: specs run in a sandbox that cannot read files, load code or modules (see docs/spec.md)
-- A spec cannot run other files.
dofile("/etc/passwd")
