-- expect: tests/errors/gsub_recursion.lua:4: C stack overflow (calls, tables or parentheses nested too deeply)
-- string.gsub calling back into itself: Lua raises the overflow in C, with no place; kiln finds the spec's line.
local function expand(s)
  return (s:gsub(".", expand))
end
expand("ab")
