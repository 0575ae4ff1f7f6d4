/**
 * The diffusion teacher: an ADM-style U-Net, the Gaussian diffusion process (noise schedules, DDPM and DDIM
 * sampling), its feature taps, the teacher shipped in {@code dreamteacher-assets}, and its training
 * ({@link org.dreamteacher.diffusion.TeacherTrainer}).
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, {@code org.dreamteacher.torch},
 * {@code org.dreamteacher.nn}, and for the training {@code org.dreamteacher.data}, {@code org.dreamteacher.parallel}
 * and {@code org.dreamteacher.train}.
 */
package org.dreamteacher.diffusion;
