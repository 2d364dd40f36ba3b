return model{input={1},classes=2,layers={linear(2)},loss=softmax_cross_entropy(),optimizer=sgd{lr=1}}
