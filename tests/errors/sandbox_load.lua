-- expect: tests/errors/sandbox_load.lua:3: 'load' is not available in a spec: specs run in a sandbox that cannot read files, load code or modules (see docs/spec.md)
-- A spec cannot compile text chunks.
load("return 1")
