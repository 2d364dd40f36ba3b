-- expect: tests/errors/forever.lua:3: spec still running after 100 million Lua instructions; does it loop forever?
-- A spec that never ends is stopped.
while true do end
