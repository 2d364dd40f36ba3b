-- lenet_relu.lua — the modern LeNet the "Convolutional Neural Networks
-- (LeNet)" chapter of Dive into Deep Learning suggests trying: ReLU instead
-- of sigmoid and max pooling instead of average pooling, otherwise its
-- LeNet-5 (conv 6@5×5 padding 2, conv 16@5×5, linear 120, 84, 10);
-- PyTorch's default initialization, softmax cross-entropy, SGD lr 0.1 on
-- the batch-mean loss, batch 256, 10 epochs.
-- Expect: about 0.875 train and 0.87 test accuracy after 10 epochs (the best
-- epoch's test accuracy).
-- accuracy: train >= 0.86, test >= 0.85
return model {
  name    = "lenet_relu",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    conv2d(6, 5, {padding = 2}), relu(), max_pool2d(2),
    conv2d(16, 5), relu(), max_pool2d(2),
    flatten(),
    linear(120), relu(),
    linear(84), relu(),
    linear(10),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
