-- expect: tests/errors/sandbox_require.lua:3: 'require' is not available in a spec: specs run in a sandbox that cannot read files, load code or modules (see docs/spec.md)
-- A spec cannot load modules.
local socket = require("socket")
