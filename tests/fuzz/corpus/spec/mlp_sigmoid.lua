-- mlp_sigmoid.lua — the book's MLP (see mlp.lua) with sigmoid() in place of relu():
-- the chapter's exercise on trying other activation functions.
-- Expect: about 0.84 train and 0.83 test accuracy after 5 epochs (sigmoid
-- learns more slowly than relu at first).
-- accuracy: train >= 0.82, test >= 0.80
return model {
  name    = "mlp_sigmoid",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(256, {init = normal(0, 0.01)}),
    sigmoid(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 100 / 256},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 5,
  seed      = 0,
}
