-- Gradient check: dropout in training mode (the numeric side evaluates the
-- loss with the same step's mask), after an activation and before a linear layer,
-- and a Kaiming/Xavier-initialized stack (smooth activations: no kinks).
return model {
  input = {6}, classes = 3, batch = 8,
  layers = {
    linear(7, {init = kaiming(), bias_init = normal(0, 0.5)}), sigmoid(), dropout(0.3),
    linear(5, {init = xavier(), bias_init = normal(0, 0.5)}), tanh(), dropout(0.5),
    linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
