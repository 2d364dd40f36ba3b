-- expect: tests/errors/float_synthetic_w.lua:7: synthetic_regression: option w[2] is 1e+300, outside what a 32-bit float holds (it would become infinite); use a magnitude from 1.2e-38 to 3.4e+38
-- The synthetic data's true weights become float features and targets in the trainer.
return model {
  input = {2},
  layers = { linear(1) },
  loss = mse(), optimizer = sgd {lr = 0.03},
  data = synthetic_regression { w = {2, 1e300}, b = 4.2 },
}
