-- expect: tests/errors/error_table.lua:4: the spec raised a table value as its error; give error() a message string
-- An error object that is not a message still names the spec's line.
local function check(x)
  if not x then error({code = 1}) end
end
check(false)
