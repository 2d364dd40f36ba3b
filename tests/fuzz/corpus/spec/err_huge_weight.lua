-- expect: tests/errors/huge_weight.lua:4: linear(16000000): its weight would hold 784 × 16000000 values, above kiln's limit of 268435456 per tensor
return model {
  input = {784}, classes = 10,
  layers = { linear(16000000), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
