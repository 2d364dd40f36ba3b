-- mlp_adam.lua — the book's MLP trained with Adam (Dive into Deep Learning,
-- "Adam"), lr 0.001 and PyTorch's default betas and eps, with Kaiming
-- initialization for the ReLU layer and Xavier for the output layer.
-- Expect: about 0.89 train and 0.87 test accuracy after 5 epochs.
-- accuracy: train >= 0.87, test >= 0.85
return model {
  name      = "mlp_adam",
  input     = {1, 28, 28},
  classes   = 10,
  layers    = {
    flatten(),
    linear(256, {init = kaiming()}),
    relu(),
    linear(10,  {init = xavier()}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = adam {lr = 0.001},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 5,
  seed      = 0,
}
