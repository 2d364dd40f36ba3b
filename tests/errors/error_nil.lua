-- expect: tests/errors/error_nil.lua:3: the spec raised a nil value as its error; give error() a message string
-- error() without a message still names the spec's line.
error()
