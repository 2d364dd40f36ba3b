-- expect: tests/errors/static_params.lua:8: linear(16384): with this layer the parameters take 2048.1 MiB, above the 2032 MiB a trainer's static arrays can hold; use fewer or smaller layers
-- Each weight is within kiln's per-tensor limit, but together they are more than a
-- static array can hold: this used to pass kiln and fail in the linker.
return model {
  input = {16384}, classes = 10, batch = 1,
  layers = {
    linear(16384),
    linear(16384),
    linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
