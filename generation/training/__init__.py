"""Training the embedded demo models on the synthetic motion world (`generation.world`).

Three stages, each deterministic, checkpointed and resumable (``make train-demo-models``):

1. `generation.training.vae` — a tiny Wan VAE (`AutoencoderKLWan`) on world clips;
2. `generation.training.video` — a tiny Wan 2.1 image-to-video transformer, flow matching on
   latents of that VAE, conditioned on the first frame and the caption (its data, encoded
   through the pipeline's own code and cached: `generation.training.video_data`);
3. `generation.training.clip` — a tiny open_clip model, contrastive on frames ↔ captions.

The results are committed under ``generation/weights/`` and loaded by ``model: tiny`` and the
default scorer through the same ``from_pretrained`` / open_clip ``local-dir:`` paths as real
weights.
"""
