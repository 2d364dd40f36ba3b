-- mlp.lua — the multilayer perceptron of Dive into Deep Learning
-- ("Multilayer Perceptrons", implementation from scratch): Fashion-MNIST,
-- 784 → 256 → 10 with ReLU, softmax cross-entropy, minibatch SGD.
-- Weights from normal(0, 0.01), zero biases (init given ⇒ bias zeros),
-- lr 100/256 on the batch-mean loss, batch 256, 5 epochs.
-- Expect: about 0.86 train and 0.84 test accuracy after 5 epochs.
-- accuracy: train >= 0.85, test >= 0.83
return model {
  name    = "mlp",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(256, {init = normal(0, 0.01)}),
    relu(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 100 / 256},
  data      = fashion_mnist(),
  batch     = 256,
  epochs    = 5,
  seed      = 0,
}
