-- A deeper MLP (four hidden layers) for the memory-plan test: gradients of
-- successive layers have disjoint lifetimes, so the arena must reuse them.
local layers = { flatten() }
for _ = 1, 4 do
  layers[#layers + 1] = linear(128)
  layers[#layers + 1] = relu()
end
layers[#layers + 1] = linear(10)
return model {
  name = "deep", input = {1, 28, 28}, classes = 10, batch = 64,
  layers = layers,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
