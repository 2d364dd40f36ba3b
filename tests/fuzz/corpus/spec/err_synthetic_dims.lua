-- expect: tests/errors/synthetic_dims.lua:6: synthetic_regression: 2 weights make examples of 2 values, but the model's input holds 3; set input = {2}
return model {
  input = {3},
  layers = { linear(1) },
  loss = mse(), optimizer = sgd {lr = 0.03},
  data = synthetic_regression { w = {2, -3.4}, b = 4.2 },
}
