-- expect: tests/errors/mse_on_images.lua:6: fashion_mnist: holds class labels, so the loss must be softmax_cross_entropy(), not mse()
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = mse(), optimizer = sgd {lr = 0.1},
  data = fashion_mnist(),
}
