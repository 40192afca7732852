import type ort from 'onnxruntime-node';

/**
 * Options for the sessions around the denoiser (VAE encoder and decoder, text encoders), each run
 * once or twice per image. ORT's memory pattern reserves one block per run shape and keeps it on
 * top of the arena's own free blocks, so every session held its largest run's activations twice
 * over for the life of the worker. Measured with `preciseinv invert` on a 512 x 512 photograph and
 * the SD 1.5 replica (`--steps 2 --max-iters 3`, 2 CPU threads, glibc's default malloc): peak RSS
 * 8.19 GiB with it on, 7.36 GiB with it off, 184 s and 177 s. The arena stays: without it every
 * activation at image resolution is a fresh mmap whose pages fault in one by one, and the VAE's
 * runs took 3.5x as long.
 */
export function componentSessionOptions(
  executionProviders: ort.InferenceSession.SessionOptions['executionProviders'] = ['cpu'],
): ort.InferenceSession.SessionOptions {
  return { executionProviders, enableMemPattern: false };
}
