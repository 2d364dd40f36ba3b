-- expect: tests/errors/static_state.lua:6: linear(10000): with this layer the parameters, their gradients and optimizer state take 2500.0 MiB, above the 2032 MiB a trainer's static arrays can hold; use fewer or smaller layers
-- adam keeps a gradient buffer and two moments per parameter: 625 MiB of weights need 2.5 GiB of static arrays.
return model {
  input = {16384}, classes = 10, batch = 1,
  layers = {
    linear(10000),
    linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = adam {},
}
