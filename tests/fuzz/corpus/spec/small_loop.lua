local l = { flatten() }
for i = 1, 3 do l[#l + 1] = linear(8 * i, {init = uniform(-0.1, 0.1)}); l[#l + 1] = sigmoid() end
l[#l + 1] = dropout(0.5)
l[#l + 1] = linear(2)
return model { name = 'x"; y //*/', input = {2, 2, 2}, classes = 2, layers = l,
  loss = softmax_cross_entropy(), optimizer = sgd { lr = 1, momentum = 0.9, weight_decay = 1e-4 }, batch = 3 }
