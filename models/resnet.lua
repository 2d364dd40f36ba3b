-- resnet.lua — a residual network in the style of Dive into Deep Learning's
-- "Residual Networks (ResNet)" chapter, sized for Fashion-MNIST's 28×28
-- images: a 3×3 stem (conv 16 → batch norm → relu), three stages of two
-- basic blocks with 16, 32 and 64 channels (conv 3×3 → batch norm → relu →
-- conv 3×3 → batch norm, plus the shortcut, → relu; the first block of the
-- second and third stages halves height and width with stride 2, and its
-- shortcut is a 1×1 stride-2 convolution with batch norm), global average
-- pooling, linear 10.  PyTorch's default initialization, softmax
-- cross-entropy, SGD lr 0.05 with momentum 0.9 and weight decay 5e-4,
-- batch 256, 5 epochs.  Convolutions keep their biases, as the book's do
-- (batch norm makes them redundant; in evaluation they take the folded
-- batch norm's shift).  kiln reaches train acc 0.802 and test acc 0.839
-- after one epoch; 0.927 and 0.878 after five (the best epoch's test
-- accuracy 0.901, epoch 3: in evaluation mode it swings by a few points).
-- accuracy: train >= 0.90, test >= 0.86
-- ci: epochs 2 on 6000 images, train >= 0.70, test >= 0.65
return model {
  name    = "resnet",
  input   = {1, 28, 28},
  classes = 10,
  forward = function(x)
    local function block(h, channels, stride)
      local r = conv2d(channels, 3, {stride = stride, padding = 1})(h)
      r = relu()(batch_norm()(r))
      r = batch_norm()(conv2d(channels, 3, {padding = 1})(r))
      if stride ~= 1 then
        h = batch_norm()(conv2d(channels, 1, {stride = stride})(h))
      end
      return relu()(add(r, h))
    end
    local h = relu()(batch_norm()(conv2d(16, 3, {padding = 1})(x)))
    for stage, channels in ipairs {16, 32, 64} do
      h = block(h, channels, stage == 1 and 1 or 2)
      h = block(h, channels, 1)
    end
    return linear(10)(flatten()(global_avg_pool2d()(h)))
  end,
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.05, momentum = 0.9, weight_decay = 5e-4},
  batch     = 256,
  epochs    = 5,
  seed      = 0,
}
