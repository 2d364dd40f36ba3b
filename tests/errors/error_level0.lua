-- expect: tests/errors/error_level0.lua:3: no place given
-- error(msg, 0) adds no place; kiln names the line that raised it.
error("no place given", 0)
