-- expect: tests/errors/bad_init.lua:4: linear: option init must be an initializer like normal(0, 0.01) or zeros(), got 0.01
return model {
  input = {784}, classes = 10,
  layers = { linear(10, {init = 0.01}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
