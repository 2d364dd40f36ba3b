-- mlp_dropout.lua — Dive into Deep Learning, "Dropout": two hidden layers of
-- 256 (784-256-256-10) with dropout 0.2 after the first and 0.5 after the
-- second, weights normal(0, 0.01), lr 0.5 on the batch-mean loss, batch 256,
-- 10 epochs.  A Lua loop stacks the hidden layers.
-- Expect: about 0.87 train and 0.86 test accuracy after 10 epochs.
-- accuracy: train >= 0.85, test >= 0.84
local layers = { flatten() }
for _, p in ipairs {0.2, 0.5} do
  layers[#layers + 1] = linear(256, {init = normal(0, 0.01)})
  layers[#layers + 1] = relu()
  layers[#layers + 1] = dropout(p)
end
layers[#layers + 1] = linear(10, {init = normal(0, 0.01)})

return model {
  name      = "mlp_dropout",
  input     = {1, 28, 28},
  classes   = 10,
  layers    = layers,
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.5},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
