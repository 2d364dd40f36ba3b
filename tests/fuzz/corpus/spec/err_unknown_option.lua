-- expect: tests/errors/unknown_option.lua:4: linear: unknown option 'bais'; did you mean 'bias'? (valid: init, bias, bias_init)
return model {
  input = {784}, classes = 10,
  layers = { linear(10, {bais = false}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
