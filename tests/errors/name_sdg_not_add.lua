-- expect: tests/errors/name_sdg_not_add.lua:6: unknown optimizer 'sdg'; did you mean sgd()? (optimizers: sgd, adam)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), linear(10) },
  loss = softmax_cross_entropy(),
  optimizer = sdg {lr = 0.1},
}
