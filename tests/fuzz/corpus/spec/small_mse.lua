return model { input = {3}, layers = { linear(4), relu(), linear(1) }, loss = mse(),
  optimizer = sgd { lr = 0.1 }, data = synthetic_regression { w = {1, 2, 3}, b = -1, noise = 0, train = 5, test = 2 } }
