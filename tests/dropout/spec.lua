-- The model tests/dropout/harness.c inspects: relu1 is dropout1's input.
return model {
  input = {1, 8, 8}, classes = 10, batch = 128,
  layers = { flatten(), linear(256, {init = uniform(0.5, 1), bias_init = uniform(0.5, 1)}), relu(),
             dropout(0.3), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
