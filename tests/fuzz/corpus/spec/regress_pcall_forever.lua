-- expect: tests/errors/pcall_forever.lua:3: spec still running after 100 million Lua instructions; does it loop forever?
-- pcall and xpcall cannot catch the instruction limit's error and run on.
local function spin() while true do end end
while true do pcall(spin); xpcall(spin, function(e) while true do end end) end
