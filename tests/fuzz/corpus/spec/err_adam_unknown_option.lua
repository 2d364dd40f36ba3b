-- expect: tests/errors/adam_unknown_option.lua:5: adam: unknown option 'beta'; did you mean 'beta1'? (valid: lr, beta1, beta2, eps, weight_decay)
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = adam {lr = 0.01, beta = 0.9},
}
