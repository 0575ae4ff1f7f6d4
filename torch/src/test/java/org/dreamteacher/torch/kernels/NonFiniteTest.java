package org.dreamteacher.torch.kernels;

import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.FiniteCheck;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.NonFiniteException;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.TestArrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The non-finite input policy ({@link FiniteCheck}): a NaN, +Inf or -Inf in any input propagates to the loss
 * (never a finite loss that hides it); with the check on, the call throws {@link NonFiniteException} naming the
 * tensor and the first bad index, and writes nothing.
 */
class NonFiniteTest {
    private static final float SENTINEL = -12345.5f;
    private static final float[] BAD = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    private static final String[] BAD_NAMES = {"nan", "inf", "-inf"};

    @AfterEach
    void checkOff() {
        FiniteCheck.setEnabled(false);
    }

    /** One kernel call on a small problem: shapes, and how to run it on raw addresses or on tensors. */
    enum Kernel {
        // student (2,3,4,5), teacher the same
        MSE_PER_SAMPLE(new long[] {2, 3, 4, 5}, new long[] {2, 3, 4, 5}, "student", "teacher"),
        MSE_PER_PIXEL(new long[] {2, 3, 4, 5}, new long[] {2, 3, 4, 5}, "student", "teacher"),
        // student (2,3,4,5), teacher (2,6,4,5)
        AT_SQUARED(new long[] {2, 3, 4, 5}, new long[] {2, 6, 4, 5}, "student", "teacher"),
        AT_NORM(new long[] {2, 3, 4, 5}, new long[] {2, 6, 4, 5}, "student", "teacher"),
        // logits (40, 10), P = 1, and (2, 40, 6), P = 6
        CE_ROWS(new long[] {40, 10}, new long[] {40, 10}, "student_logits", "teacher_logits"),
        CE_POSITIONS(new long[] {2, 40, 6}, new long[] {2, 40, 6}, "student_logits", "teacher_logits");

        final long[] student, teacher;
        final String studentName, teacherName;

        Kernel(long[] student, long[] teacher, String studentName, String teacherName) {
            this.student = student;
            this.teacher = teacher;
            this.studentName = studentName;
            this.teacherName = teacherName;
        }

        void raw(LossKernels k, long s, long t, long loss, long grad) {
            long[] d = student;
            switch (this) {
                case MSE_PER_SAMPLE, MSE_PER_PIXEL -> k.whitenedMse(s, t, d[0], d[1], d[2], d[3],
                        this == MSE_PER_SAMPLE ? WhitenMode.PER_SAMPLE : WhitenMode.PER_PIXEL, 1e-5f, 1f, loss, grad, 0);
                case AT_SQUARED, AT_NORM -> k.attentionTransfer(s, d[1], t, teacher[1], d[0], d[2], d[3], 2f,
                        this == AT_SQUARED ? AttentionDistance.SQUARED : AttentionDistance.NORM, 1e-12f, 1f, loss,
                        grad, 0);
                default -> k.softTargetCe(s, t, d[0], d[1], d.length > 2 ? d[2] : 1, 4f, 1f, loss, grad, 0);
            }
        }

        LossResult tensors(TensorLossKernels k, Tensor s, Tensor t) {
            return switch (this) {
                case MSE_PER_SAMPLE -> k.whitenedMse(s, t, WhitenMode.PER_SAMPLE, 1e-5f, 1f, true);
                case MSE_PER_PIXEL -> k.whitenedMse(s, t, WhitenMode.PER_PIXEL, 1e-5f, 1f, true);
                case AT_SQUARED -> k.attentionTransfer(s, t, 2f, AttentionDistance.SQUARED, 1e-12f, 1f, true);
                case AT_NORM -> k.attentionTransfer(s, t, 2f, AttentionDistance.NORM, 1e-12f, 1f, true);
                default -> k.softTargetCe(s, t, 4f, 1f, true);
            };
        }
    }

    /** Kernel x which tensor x bad value x position (first, middle, last element). */
    static Stream<Object[]> cases() {
        List<Object[]> cases = new ArrayList<>();
        for (Kernel k : Kernel.values()) {
            for (boolean teacher : new boolean[] {false, true}) {
                for (int b = 0; b < BAD.length; b++) {
                    for (int where = 0; where < 3; where++) cases.add(new Object[] {k, teacher, b, where});
                }
            }
        }
        return cases.stream();
    }

    private static int count(long[] shape) {
        return TestArrays.count(shape);
    }

    private static int position(int count, int where) {
        return where == 0 ? 0 : where == 1 ? count / 3 : count - 1;
    }

    @ParameterizedTest(name = "{0} teacher={1} value={2} at={3}")
    @MethodSource("cases")
    void cpuRawAddressesPropagateOrReport(Kernel kernel, boolean inTeacher, int bad, int where) {
        LossKernels cpu = Backends.get("cpu");
        float[] s = TestArrays.gaussian(1, count(kernel.student), 1, 0);
        float[] t = TestArrays.gaussian(2, count(kernel.teacher), 1, 0);
        float[] target = inTeacher ? t : s;
        int index = position(target.length, where);
        target[index] = BAD[bad];
        try (FloatPointer sp = new FloatPointer(s); FloatPointer tp = new FloatPointer(t);
                FloatPointer loss = new FloatPointer(1); FloatPointer grad = new FloatPointer(s.length)) {
            // Off: the loss is not finite.
            kernel.raw(cpu, sp.address(), tp.address(), loss.address(), grad.address());
            assertFalse(Float.isFinite(loss.get(0)), kernel + ": finite loss " + loss.get(0) + " hides "
                    + BAD_NAMES[bad] + " in the " + (inTeacher ? "teacher" : "student"));
            // On: NonFiniteException naming the tensor and index, outputs untouched.
            FiniteCheck.setEnabled(true);
            assertTrue(FiniteCheck.enabled());
            loss.put(0, SENTINEL);
            for (int i = 0; i < s.length; i++) grad.put(i, SENTINEL);
            NonFiniteException e = assertThrows(NonFiniteException.class,
                    () -> kernel.raw(cpu, sp.address(), tp.address(), loss.address(), grad.address()));
            String name = inTeacher ? kernel.teacherName : kernel.studentName;
            assertEquals(name, e.tensor(), e.getMessage());
            assertEquals(index, e.index(), e.getMessage());
            assertTrue(e.getMessage().contains("(" + BAD_NAMES[bad] + ") at index " + index + " ("), e.getMessage());
            assertEquals(org.dreamteacher.kernels.bindings.DreamTeacherNative.DT_ERR_NON_FINITE, e.status());
            assertEquals(SENTINEL, loss.get(0), "loss written");
            for (int i = 0; i < s.length; i++) assertEquals(SENTINEL, grad.get(i), "grad written");
        }
    }

    @ParameterizedTest(name = "{0} teacher={1} value={2} at={3}")
    @MethodSource("cases")
    void tensorsPropagateOrReportOnCpuAndReference(Kernel kernel, boolean inTeacher, int bad, int where) {
        for (String backend : new String[] {"cpu", "reference"}) {
            TensorLossKernels k = TensorLossKernels.get(backend);
            try (PointerScope scope = new PointerScope()) {
                float[] s = TestArrays.gaussian(3, count(kernel.student), 1, 0);
                float[] t = TestArrays.gaussian(4, count(kernel.teacher), 1, 0);
                float[] target = inTeacher ? t : s;
                int index = position(target.length, where);
                target[index] = BAD[bad];
                Tensor st = TestData.floats(s, kernel.student);
                Tensor tt = TestData.floats(t, kernel.teacher);
                FiniteCheck.setEnabled(false);
                float loss = kernel.tensors(k, st, tt).lossValue();
                // The reference backend is libtorch's own arithmetic: a teacher -Inf logit is a class of
                // probability 0 there, and its loss stays finite. The project's kernels propagate it.
                boolean libtorchException = backend.equals("reference") && inTeacher && bad == 2
                        && kernel.name().startsWith("CE");
                if (!libtorchException) {
                    assertFalse(Float.isFinite(loss), backend + " " + kernel + ": finite loss " + loss);
                }
                FiniteCheck.setEnabled(true);
                NonFiniteException e = assertThrows(NonFiniteException.class, () -> kernel.tensors(k, st, tt));
                assertEquals(inTeacher ? kernel.teacherName : kernel.studentName, e.tensor(), e.getMessage());
                assertEquals(index, e.index(), e.getMessage());
            }
        }
    }

    @Test
    void javaSideCheckWritesTheNativeMessage() {
        // The check used for CUDA tensors (libtorch, any device), run here on CPU tensors: the same message as the
        // C ABI's for the same element, after the function name.
        TensorLossKernels cpu = TensorLossKernels.get("cpu");
        long[] shape = {2, 3, 4, 5};
        float[] s = TestArrays.gaussian(5, 120, 1, 0);
        float[] t = TestArrays.gaussian(6, 120, 1, 0);
        t[119] = Float.NEGATIVE_INFINITY;
        t[7] = Float.NaN;
        try (PointerScope scope = new PointerScope()) {
            Tensor st = TestData.floats(s, shape);
            Tensor tt = TestData.floats(t, shape);
            FiniteCheck.setEnabled(true);
            NonFiniteException nativeError = assertThrows(NonFiniteException.class, () -> cpu.whitenedMse(st, tt));
            NonFiniteException javaError = assertThrows(NonFiniteException.class,
                    () -> TensorFiniteCheck.whitenedMse("op", st, tt, shape));
            assertEquals("teacher", javaError.tensor());
            assertEquals(7, javaError.index());
            String tail = "tensor 'teacher' holds a non-finite value (nan) at index 7 (n=0, c=0, h=1, w=2)";
            assertTrue(nativeError.getMessage().endsWith(tail), nativeError.getMessage());
            assertEquals("op: " + tail, javaError.getMessage());
            // A finite tensor passes.
            TensorFiniteCheck.require("op", "student", st, shape, TensorFiniteCheck.NCHW);
        }
    }

    @Test
    void finiteInputsGiveTheSameResultsWithTheCheckOn() {
        TensorLossKernels cpu = TensorLossKernels.get("cpu");
        for (Kernel kernel : Kernel.values()) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestData.floats(TestArrays.gaussian(7, count(kernel.student), 1, 0), kernel.student);
                Tensor t = TestData.floats(TestArrays.gaussian(8, count(kernel.teacher), 1, 0), kernel.teacher);
                FiniteCheck.setEnabled(false);
                LossResult off = kernel.tensors(cpu, s, t);
                FiniteCheck.setEnabled(true);
                LossResult on = kernel.tensors(cpu, s, t);
                assertEquals(Float.floatToRawIntBits(off.lossValue()), Float.floatToRawIntBits(on.lossValue()),
                        kernel.toString());
                assertTrue(off.grad().equal(on.grad()), kernel + ": gradients differ");
            }
        }
    }

    @Test
    void theSettingReachesTheCAbi() {
        FiniteCheck.setEnabled(true);
        assertEquals(1, org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_check_finite());
        FiniteCheck.setEnabled(false);
        assertEquals(0, org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_check_finite());
        assertFalse(FiniteCheck.enabled());
    }
}
