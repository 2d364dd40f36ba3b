-- mlp_residual.lua — the residual connection of Dive into Deep Learning's
-- "Residual Networks (ResNet)" chapter, on the MLP of "Multilayer
-- Perceptrons": Fashion-MNIST, 784 → 256, then two residual blocks
-- h ← relu(h + linear(relu(linear(h)))) of width 256, → 10; PyTorch's
-- default initialization, softmax cross-entropy, SGD lr 0.1 on the
-- batch-mean loss, batch 256, 10 epochs.
-- Expect: about 0.88 train and 0.86 test accuracy after 10 epochs (the best
-- epoch's test accuracy; it swings by a point from epoch to epoch).
-- accuracy: train >= 0.87, test >= 0.85
return model {
  name    = "mlp_residual",
  input   = {1, 28, 28},
  classes = 10,
  forward = function(x)
    local h = relu()(linear(256)(flatten()(x)))
    for _ = 1, 2 do
      local r = sequential { linear(256), relu(), linear(256) }(h)
      h = relu()(add(h, r))
    end
    return linear(10)(h)
  end,
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
