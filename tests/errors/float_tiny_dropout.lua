-- expect: tests/errors/float_tiny_dropout.lua:5: dropout: the drop probability p is 1e-40, outside what a 32-bit float holds (it would become 0); use a magnitude from 1.2e-38 to 3.4e+38
-- A dropout probability below FLT_MIN is dropout(0) in disguise.
return model {
  input = {784}, classes = 10,
  layers = { linear(64), dropout(1e-40), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
