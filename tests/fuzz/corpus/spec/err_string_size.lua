-- expect: tests/errors/string_size.lua:7: linear: the number of outputs must be a positive whole number, got the string "a"
return model {
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear("a"),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
}
