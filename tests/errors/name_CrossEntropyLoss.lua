-- expect: tests/errors/name_CrossEntropyLoss.lua:5: unknown loss 'CrossEntropyLoss'; did you mean softmax_cross_entropy()? (losses: softmax_cross_entropy, mse)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), linear(10) },
  loss = CrossEntropyLoss(), optimizer = sgd {lr = 0.1},
}
