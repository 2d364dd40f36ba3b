-- Parity case: batch_norm on (batch, channels, height, width) after a
-- convolution and on (batch, features) after a linear layer, each before a
-- ReLU; SGD with momentum; running statistics and evaluation-mode outputs
-- compared too (tests/parity/cases.txt).
return model {
  input = {1, 28, 28}, classes = 10, batch = 32,
  layers = {
    conv2d(4, 3, {padding = 1}), batch_norm(), relu(), max_pool2d(2),
    flatten(), linear(32), batch_norm(), relu(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1, momentum = 0.9},
}
