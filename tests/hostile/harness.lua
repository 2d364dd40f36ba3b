-- harness.lua — the model tests/hostile/trainer_harness.c drives: a hidden
-- ReLU layer (it turns a NaN into 0, so a NaN weight can leave the loss
-- finite) on the book's synthetic regression data.
return model {
  name = "harness", input = {4},
  layers = { linear(8), relu(), linear(1) },
  loss = mse(), optimizer = sgd {lr = 0.01}, batch = 10, epochs = 2,
  data = synthetic_regression { w = {1, -2, 3, 0.5}, b = 1, train = 200, test = 50 },
}
