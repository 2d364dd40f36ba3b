-- Gradient check: a deeper stack built with a Lua loop, every activation,
-- a layer without bias and the default (PyTorch) initialization.
local layers = { flatten() }
for _, act in ipairs { tanh, relu, sigmoid } do
  layers[#layers + 1] = linear(6, {init = normal(0, 1), bias_init = uniform(-0.5, 0.5)})
  layers[#layers + 1] = act()
end
layers[#layers + 1] = linear(5, {bias = false, init = normal(0, 1)})
layers[#layers + 1] = linear(4)
return model {
  input = {1, 2, 2}, classes = 4, batch = 5,
  layers = layers,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
