-- expect: tests/errors/sandbox_loadfile.lua:3: 'loadfile' is not available in a spec: specs run in a sandbox that cannot read files, load code or modules (see docs/spec.md)
-- A spec cannot load other files.
loadfile("/etc/passwd")
