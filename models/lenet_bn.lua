-- lenet_bn.lua — LeNet with batch normalization, from Dive into Deep
-- Learning's "Batch Normalization" chapter as its PyTorch edition trains
-- it: conv 6@5×5 → batch norm → sigmoid → avg-pool 2 → conv 16@5×5 →
-- batch norm → sigmoid → avg-pool 2 → flatten → linear 120 → batch norm →
-- sigmoid → linear 84 → batch norm → sigmoid → linear 10, Xavier-uniform
-- weights, softmax cross-entropy, SGD lr 1.0 on the batch-mean loss, batch
-- 256, 10 epochs.  PyTorch 1.13 on this recipe ends epoch 10 at train acc
-- 0.900 and its best epoch's test accuracy is 0.859 (the test accuracy,
-- in evaluation mode with the running statistics, swings by several points
-- from epoch to epoch at this step size).  kiln ends epoch 10 at train acc
-- 0.895, best test accuracy 0.836 (epoch 6).
-- accuracy: train >= 0.88, test >= 0.81
-- ci: epochs 3 on 60000 images, train >= 0.83, test >= 0.78
return model {
  name    = "lenet_bn",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    conv2d(6, 5, {init = xavier()}), batch_norm(), sigmoid(), avg_pool2d(2),
    conv2d(16, 5, {init = xavier()}), batch_norm(), sigmoid(), avg_pool2d(2),
    flatten(),
    linear(120, {init = xavier()}), batch_norm(), sigmoid(),
    linear(84, {init = xavier()}), batch_norm(), sigmoid(),
    linear(10, {init = xavier()}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 1.0},
  batch     = 256,
  epochs    = 10,
  seed      = 0,
}
