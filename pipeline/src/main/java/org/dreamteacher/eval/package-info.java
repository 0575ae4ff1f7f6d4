/**
 * Label-efficient evaluation (docs/design.md section 6): how much a pretrained backbone helps when labels are few,
 * measured against the same architecture from random initialisation. {@link org.dreamteacher.eval.Classifier}
 * probes or fine-tunes on a balanced fraction of the labels and reports test accuracy;
 * {@link org.dreamteacher.eval.SegmentationFineTune} trains a light head (and the backbone) on a few labelled
 * Fashion-MNIST scenes and reports mIoU from a {@link org.dreamteacher.eval.ConfusionMatrix};
 * {@link org.dreamteacher.eval.LabelEfficiencyStudy} runs the grid of inits, modes, label budgets and seeds and
 * writes mean ± std as JSON, Markdown and a plot. {@link org.dreamteacher.eval.FeatureEmbedding} writes the
 * probe's frozen, pooled features of a dataset as NumPy arrays for other tools.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, {@code org.dreamteacher.torch},
 * {@code org.dreamteacher.data}, {@code org.dreamteacher.nn}, {@code org.dreamteacher.train} and
 * {@code org.dreamteacher.viz}.
 */
package org.dreamteacher.eval;
