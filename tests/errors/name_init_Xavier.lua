-- expect: tests/errors/name_init_Xavier.lua:4: unknown initializer 'xavier_uniform'; did you mean xavier()? (initializers: normal, uniform, zeros, xavier, kaiming)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), linear(10, {init = xavier_uniform()}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
