-- expect: tests/errors/synthetic_too_many_weights.lua:8: synthetic_regression: option w must be a list of 1 to 16 numbers, got table
-- The compiler's limit on synthetic_regression's weights (the runtime and the
-- emitted trainer take any number; the spec's Layer holds 16).
return model {
  input = {17},
  layers = { linear(1) },
  loss = mse(), optimizer = sgd {lr = 0.03},
  data = synthetic_regression { w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, b = 1 },
}
