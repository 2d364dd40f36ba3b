-- mlp_adam_weight_decay.lua — the parity test's (tests/t_parity.sh) variant of
-- models/mlp.lua: the same layers, with Adam with non-default betas and eps, and L2 weight decay.
return model {
  name    = "mlp_adam_weight_decay",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(256, {init = normal(0, 0.01)}),
    relu(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = adam {lr = 0.002, beta1 = 0.8, beta2 = 0.99, eps = 1e-6, weight_decay = 0.05},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 1,
  seed      = 0,
}
