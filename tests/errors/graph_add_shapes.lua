-- expect: tests/errors/graph_add_shapes.lua:7: add: its two values differ in shape, (batch, 256) and (batch, 128); add sums values of the same shape
return model {
  input = {1, 28, 28}, classes = 10,
  forward = function(x)
    local h = relu()(linear(256)(flatten()(x)))
    local r = linear(128)(h)
    return linear(10)(add(h, r))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
