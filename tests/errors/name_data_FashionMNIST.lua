-- expect: tests/errors/name_data_FashionMNIST.lua:6: unknown data set 'FashionMNIST'; did you mean fashion_mnist()? (data sets: fashion_mnist, idx, synthetic_regression)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
  data = FashionMNIST(),
}
