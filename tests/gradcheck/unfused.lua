-- Gradient check of the paths fusion leaves alone: a raw-input activation
-- (input bytes scaled by their own kernel), an activation after an
-- activation (its own forward loop) and a derivative that no GEMM absorbs.
return model {
  input = {5}, classes = 4, batch = 6,
  layers = {
    sigmoid(),
    linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)}), relu(), tanh(),
    linear(4, {init = normal(0, 1), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
