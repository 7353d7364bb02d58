"""Trained model weights (numpy .npz) and the held-out evaluation digits; see README.md."""
