return model {
  name = "tiny", input = {4}, classes = 3,
  layers = { linear(5, {init = xavier(), bias = false}), tanh(), linear(3, {init = kaiming(), bias_init = zeros()}) },
  loss = softmax_cross_entropy(),
  optimizer = adam { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01 },
  data = idx { dir = "d", train_images = "a", train_labels = "b", test_images = "c", test_labels = "e" },
  batch = 1, epochs = 1, seed = 7,
}
