-- mlp_adam.lua — the parity test's (tests/t_parity.sh) variant of
-- models/mlp.lua: the same layers, with Adam with PyTorch's defaults (betas 0.9, 0.999, eps 1e-8).
return model {
  name    = "mlp_adam",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(256, {init = normal(0, 0.01)}),
    relu(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = adam {lr = 0.001},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 1,
  seed      = 0,
}
