-- mlp_weight_decay.lua — the book's MLP (see mlp.lua) with the L2 penalty of
-- Dive into Deep Learning, "Weight Decay": sgd's weight_decay adds wd·w to
-- every gradient, as PyTorch's does.  Plain SGD with decay still fuses into
-- the weight-gradient GEMM (beta = 1 − lr·wd).
-- Expect: about 0.85 train and 0.84 test accuracy after 5 epochs.
-- accuracy: train >= 0.84, test >= 0.82
return model {
  name      = "mlp_weight_decay",
  input     = {1, 28, 28},
  classes   = 10,
  layers    = {
    flatten(),
    linear(256, {init = normal(0, 0.01)}),
    relu(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 100 / 256, weight_decay = 0.001},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 5,
  seed      = 0,
}
