-- mlp_concat.lua — branches joined by concatenation, as in Dive into Deep
-- Learning's "Networks with Parallel Concatenations (GoogLeNet)" chapter,
-- on the MLP of "Multilayer Perceptrons": Fashion-MNIST, two branches of
-- different widths read the same image (784 → 256 and 784 → 64, each with
-- ReLU), concat joins them (320 features), → 10; PyTorch's default
-- initialization, softmax cross-entropy, SGD lr 0.1 on the batch-mean
-- loss, batch 256, 10 epochs.
-- Expect: about 0.87 train and 0.85 test accuracy after 10 epochs (the best
-- epoch's test accuracy).
-- accuracy: train >= 0.86, test >= 0.84
return model {
  name    = "mlp_concat",
  input   = {1, 28, 28},
  classes = 10,
  forward = function(x)
    local f = flatten()(x)
    local wide = relu()(linear(256)(f))
    local narrow = relu()(linear(64)(f))
    return linear(10)(concat {wide, narrow})
  end,
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
