/**
 * The networks on libtorch: ResNet and ConvNeXt backbones (torchvision names), the FPN + PPM feature
 * regressor, the pixel interpreter and the task heads, with their configurations and checkpoints.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson and {@code org.dreamteacher.torch}.
 * The model kinds of packages above it reach its registry through {@link org.dreamteacher.nn.ModelKinds}.
 */
package org.dreamteacher.nn;
