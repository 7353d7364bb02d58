"""VAE image generation with the FTJ array (DESIGN.md section 8).

The decoder of a small VAE, trained offline (``scripts/train_vae.py``), runs in numpy:

* :mod:`ftjlab.vae.model` - the shipped weights and numpy inference (no torch at run time);
* :mod:`ftjlab.vae.mapping` - weights -> differential conductance pairs, quantised, tiled,
  programmed by program-and-verify;
* :mod:`ftjlab.vae.latents` - latent vectors from RTN acquired at the sampling bias;
* :mod:`ftjlab.vae.generate` - software, measured-map and in-array generation;
* :mod:`ftjlab.vae.metrics` - FCD, confidence, class coverage, precision/recall;
* :mod:`ftjlab.vae.datasets` - MNIST and image folders in CelebA's layout.
"""
