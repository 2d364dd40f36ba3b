-- expect: tests/errors/metatable_index.lua:3: model: input must be the shape of one example, e.g. input = {1, 28, 28}, got nothing
-- model{}'s fields are read raw: an __index that errors (or loops) is never run (it used to abort or hang kiln).
return model(setmetatable({}, {__index = function(t, k) error("boom " .. k) end}))
