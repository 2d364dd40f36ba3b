-- expect: tests/errors/sandbox_require.lua:3: attempt to call a nil value (global 'require')
-- A spec cannot load modules.
local socket = require("socket")
