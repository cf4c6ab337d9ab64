"""The families of the course's first part that learn by their own rules (numpy, or torch
tensors without autograd): perceptron, RBF network, Kohonen SOM, ART, competitive
learning and LVQ, Hebbian learning, Boltzmann machines, Hopfield networks, and the
readout that turns a feature learner into a classifier.
"""
