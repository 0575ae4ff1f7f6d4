/**
 * The networks on libtorch: ResNet and ConvNeXt backbones (torchvision names), the FPN + PPM feature
 * regressor, the pixel interpreter and the task heads, with their configurations and checkpoints.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson and {@code org.dreamteacher.torch}.
 */
package org.dreamteacher.nn;
