-- expect: tests/errors/graph_concat_shapes.lua:6: concat: value 2 is (batch, 1, 28, 28) but value 1 is (batch, 784); concat joins values that differ only in their features (or channels), the first size after the batch
return model {
  input = {1, 28, 28}, classes = 10,
  forward = function(x)
    local f = flatten()(x)
    local j = concat {f, x}
    return linear(10)(j)
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
