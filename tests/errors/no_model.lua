-- expect: tests/errors/no_model.lua: the spec must end with 'return model { ... }', but it returned nothing
local layers = { linear(10) }
