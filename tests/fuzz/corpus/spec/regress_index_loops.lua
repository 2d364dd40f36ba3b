return model(setmetatable({input = {4}, classes = 2, layers = {linear(2)}, optimizer = sgd{lr=1}}, {__index = function(t, k) while true do end end}))
