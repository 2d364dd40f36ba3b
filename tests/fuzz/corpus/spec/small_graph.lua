return model {
  input = {2, 3}, classes = 3, batch = 4,
  forward = function(x)
    local f = flatten()(x)
    local h = tanh()(linear(4)(f))
    local r = sequential { linear(4), leaky_relu(0.1), linear(4) }(h)
    return linear(3)(concat {add(h, r), relu()(linear(2)(f))})
  end,
  loss = softmax_cross_entropy(), optimizer = adam {},
}
