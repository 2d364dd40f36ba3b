-- expect: tests/errors/gc_finalizer.lua:3: setmetatable: __gc finalizers are not allowed in a spec
-- A finalizer runs with Lua's hooks off, beyond the instruction limit (this one used to hang kiln at lua_close).
local keep = setmetatable({}, {__gc = function() while true do end end})
return model { input = {4}, classes = 2, layers = {linear(2)}, loss = softmax_cross_entropy(), optimizer = sgd{lr=1} }
