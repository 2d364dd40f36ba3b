-- expect: tests/errors/float_huge_std.lua:5: normal: std is 1e+39, outside what a 32-bit float holds (it would become infinite); use a magnitude from 1.2e-38 to 3.4e+38
-- An initializer's parameter past FLT_MAX would fill the weights with infinities.
return model {
  input = {784}, classes = 10,
  layers = { linear(10, {init = normal(0, 1e39)}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
