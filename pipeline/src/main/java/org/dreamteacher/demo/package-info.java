/**
 * The demo as a library: DreamTeacher end to end on the embedded data ({@link org.dreamteacher.demo.Demo}), the
 * stages that {@code dreamteacher demo} runs and reports.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the kernels and every pipeline
 * package ({@code data}, {@code diffusion}, {@code distill}, {@code eval}, {@code nn}, {@code train}, {@code viz},
 * {@code torch}, {@code torch.kernels}).
 */
package org.dreamteacher.demo;
