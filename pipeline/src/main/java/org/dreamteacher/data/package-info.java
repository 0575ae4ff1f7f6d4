/**
 * Images and labels: Fashion-MNIST (IDX files, the embedded subset), folders of PNG/JPEG pictures,
 * Fashion-MNIST scenes for segmentation, seeded splits, batches and augmentation, and NumPy {@code .npy} arrays ({@link org.dreamteacher.data.NpyWriter}).
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch and {@code org.dreamteacher.torch}.
 */
package org.dreamteacher.data;
