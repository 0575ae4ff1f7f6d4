package org.dreamteacher.eval;

/**
 * How a backbone is adapted to a labelled task. The paper reports both because they answer different
 * questions: a probe measures what the frozen features already hold, fine-tuning measures how good a
 * starting point they are (DreamTeacher is mediocre at the first and strong at the second).
 */
public enum Mode {
    /**
     * The backbone is frozen and kept in eval mode (its BatchNorm statistics do not move); only a head trains:
     * for classification a linear layer on the standardised pooled features ({@link Classifier}), for
     * segmentation the light segmentation head ({@link SegmentationFineTune}).
     */
    LINEAR_PROBE("probe"),
    /** Every parameter trains, backbone included, with a warm-up + cosine learning-rate schedule. */
    FINE_TUNE("finetune");

    private final String label;

    Mode(String label) {
        this.label = label;
    }

    /** Short name used in file names, tables and progress bars ("probe", "finetune"). */
    public String label() {
        return label;
    }

    /** The mode whose {@link #label()} or enum name is {@code text} (case-insensitive). */
    public static Mode parse(String text) {
        for (Mode m : values())
            if (m.label.equalsIgnoreCase(text) || m.name().equalsIgnoreCase(text)) return m;
        throw new IllegalArgumentException("unknown mode '" + text + "' (probe or finetune)");
    }
}
