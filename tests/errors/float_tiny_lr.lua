-- expect: tests/errors/float_tiny_lr.lua:6: sgd: option lr is 1e-60, outside what a 32-bit float holds (it would become 0); use a magnitude from 1.2e-38 to 3.4e+38
-- lr passes "above 0" but would be emitted as 0.0f: the trainer would never learn.
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1e-60},
}
