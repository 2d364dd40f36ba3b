-- expect: tests/errors/not_a_layer.lua:2: model: layers[2] must be a layer like linear(10) or relu(), got 10
return model {
  input = {784}, classes = 10,
  layers = { linear(10), 10 },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
