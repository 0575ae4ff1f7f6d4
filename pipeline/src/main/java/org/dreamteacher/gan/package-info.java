/**
 * The GAN teacher: a small generator of the StyleGAN2 family (mapping network, learned constant input,
 * modulated and demodulated convolutions, per-pixel noise, skip-connection output) whose synthesis blocks are
 * recorded as feature taps with their strides, a residual discriminator, and the adversarial training loop
 * (non-saturating logistic loss, lazy R1 regularisation, an exponential moving average of the generator).
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, {@code org.dreamteacher.torch},
 * {@code org.dreamteacher.nn}, {@code org.dreamteacher.data}, {@code org.dreamteacher.train},
 * {@code org.dreamteacher.viz} and, for the
 * single-process case of the step guard, {@code org.dreamteacher.parallel}.
 */
package org.dreamteacher.gan;
