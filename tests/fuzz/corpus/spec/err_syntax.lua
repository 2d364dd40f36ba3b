-- expect: tests/errors/syntax.lua:5: '}' expected (to close '{' at line 2) near 'loss'
return model {
  input = {784}, classes = 10,
  layers = { linear(10) }
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
