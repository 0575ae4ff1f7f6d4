/**
 * The diffusion teacher: an ADM-style U-Net, the Gaussian diffusion process (noise schedules, DDPM and DDIM
 * sampling), its feature taps, and the teacher shipped in {@code dreamteacher-assets}.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, {@code org.dreamteacher.torch} and
 * {@code org.dreamteacher.nn}.
 */
package org.dreamteacher.diffusion;
