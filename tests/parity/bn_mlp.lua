-- Parity case: batch_norm on (batch, features) between a linear layer and
-- its ReLU, SGD with momentum and weight decay (the ResNet recipe's
-- optimizer); its running statistics and evaluation-mode outputs are
-- compared too (tests/parity/cases.txt).
return model {
  input = {1, 28, 28}, classes = 10, batch = 32,
  layers = { flatten(), linear(64), batch_norm(), relu(), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1, momentum = 0.9, weight_decay = 5e-4},
}
