-- expect: tests/errors/float_tiny_eps.lua:6: adam: option eps is 1e-50, outside what a 32-bit float holds (it would become 0); use a magnitude from 1.2e-38 to 3.4e+38
-- adam's eps guards a division; as a float 1e-50 is 0.
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = adam {eps = 1e-50},
}
