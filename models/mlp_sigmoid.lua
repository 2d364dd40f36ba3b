-- mlp_sigmoid.lua — the book's MLP (see mlp.lua) with sigmoid() in place of relu():
-- the chapter's exercise on trying other activation functions.
-- Expect: sigmoid learns more slowly than relu at this step size; after 5
-- epochs about 0.75–0.80 test accuracy.
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
