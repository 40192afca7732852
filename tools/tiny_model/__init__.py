"""A small pixel-space diffusion model trained on scikit-image's sample images (models/tiny/)."""
