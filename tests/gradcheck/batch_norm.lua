-- Gradient check: batch_norm on (batch, features) values in training mode
-- (the batch's statistics), before an activation and before a linear layer,
-- one with a momentum of its own.
return model {
  input = {5}, classes = 3, batch = 6,
  forward = function(x)
    local h = tanh()(batch_norm()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(x)))
    return linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(batch_norm {momentum = 0.2}(h))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
