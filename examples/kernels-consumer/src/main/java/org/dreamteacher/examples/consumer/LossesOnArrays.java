package org.dreamteacher.examples.consumer;

import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;

/** The three DreamTeacher losses on plain Java arrays, with the cpu backend. */
public final class LossesOnArrays {
    private LossesOnArrays() {}

    /** Whitened MSE of a zero student against the teacher 1, 2, 3, 4 (one sample, one channel, 2x2). */
    public static float whitenedMse(float[] grad) {
        LossKernels cpu = Backends.get("cpu");
        float[] student = new float[4];
        float[] teacher = {1, 2, 3, 4};
        return cpu.whitenedMse(student, teacher, 1, 1, 2, 2, WhitenMode.PER_SAMPLE, LossKernels.WHITEN_EPS, 1f, grad);
    }

    /** Attention transfer between one-channel maps (1, 0) and (0, 1), p = 2. */
    public static float attentionTransfer(AttentionDistance distance, float[] grad) {
        LossKernels cpu = Backends.get("cpu");
        float[] student = {1, 0};
        float[] teacher = {0, 1};
        return cpu.attentionTransfer(student, 1, teacher, 1, 1, 1, 2, LossKernels.ATTENTION_POOL_P, distance,
                LossKernels.ATTENTION_EPS, 1f, grad);
    }

    /** Soft-target cross entropy of equal student logits against teacher logits (0, ln 3), τ = 1. */
    public static float softTargetCe(float[] grad) {
        LossKernels cpu = Backends.get("cpu");
        float[] student = {0, 0};
        float[] teacher = {0, (float) Math.log(3)};
        return cpu.softTargetCe(student, teacher, 1, 2, 1, 1f, 1f, grad);
    }

    public static void main(String[] args) {
        float[] g4 = new float[4];
        float[] g2 = new float[2];
        System.out.printf("whitened MSE        %.6f%n", whitenedMse(g4));
        System.out.printf("attention (squared) %.6f%n", attentionTransfer(AttentionDistance.SQUARED, g2));
        System.out.printf("attention (norm)    %.6f%n", attentionTransfer(AttentionDistance.NORM, g2));
        System.out.printf("soft-target CE      %.6f%n", softTargetCe(g2));
    }
}
