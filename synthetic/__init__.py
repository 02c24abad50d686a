"""The synthetic Shanwei platform: a seeded generator, its ground truth, and outcomes realised from it."""
