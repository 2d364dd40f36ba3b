-- mlp_sgd_momentum_weight_decay.lua — the parity test's (tests/t_parity.sh) variant of
-- models/mlp.lua: the same layers, with SGD with momentum and weight decay (velocity buffer, PyTorch's rule).
return model {
  name    = "mlp_sgd_momentum_weight_decay",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(256, {init = normal(0, 0.01)}),
    relu(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1, momentum = 0.9, weight_decay = 0.01},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 1,
  seed      = 0,
}
