-- expect: tests/errors/error_number.lua:3: 42
-- A number as the error object is its message, at the spec's line.
error(42)
