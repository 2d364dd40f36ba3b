-- expect: tests/errors/graph_shared_weights.lua:7: linear(4): this layer is already applied at line 6; kiln does not share weights between two uses: make another layer for this one (call linear(4) again)
local block = linear(4)
return model {
  input = {4}, classes = 3,
  forward = function(x)
    local h = relu()(block(x))
    local r = block(h)
    return linear(3)(add(h, r))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
