getmetatable(linear(1)).__gc = function() error("x") end
local m = model { input = {4}, classes = 2, layers = {linear(2)}, loss = softmax_cross_entropy(), optimizer = sgd{lr=1} }
getmetatable(m).__gc = function() while true do end end
return m
