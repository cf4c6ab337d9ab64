"""The families trained by back-propagation on the shared torch loop
(:mod:`musicnn.training`): MLP (with its numpy reference, :mod:`.backprop`), CNNs on
spectrograms, RNNs and CRNNs on frame sequences; :mod:`.base` holds what they share.
"""
