-- softmax_regression.lua — Dive into Deep Learning, "Softmax Regression
-- Implementation from Scratch": one linear layer from the 784 pixels to the
-- 10 classes, weights normal(0, 0.01), zero bias, lr 0.1, batch 256.
-- Expect: about 0.85 train and 0.82–0.83 test accuracy after 10 epochs.
-- accuracy: train >= 0.83, test >= 0.81
return model {
  name    = "softmax_regression",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(10, {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
