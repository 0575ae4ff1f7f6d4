package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TorchRuntime#init()} changes libtorch's process-wide settings (threads, OpenBLAS's threads, NNPACK, the
 * convolution guard)
 * unless the embedding application opts out with {@code -Ddreamteacher.torch.settings=false}. Each case runs in a
 * JVM of its own, since the settings hold for the process.
 */
class ProcessSettingsTest {

    /** Entry point of the child JVMs: prints what init() left behind. */
    public static void main(String[] args) {
        TorchRuntime.init();
        System.out.println("threads=" + torch.get_num_threads());
        System.out.println("nnpack=" + torch.globalContext().userEnabledNNPACK());
        System.out.println("guard=" + ConvolutionGuard.status());
        System.out.println("blas=" + org.bytedeco.openblas.presets.openblas_nolapack.blas_get_num_threads() + " " + Threads.blas());
    }

    private static String child(Path dir, String... jvmArgs) throws Exception {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path log = dir.resolve("child-" + jvmArgs.length + ".log");
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-cp", classPath, ProcessSettingsTest.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        for (String env : new String[] {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT", "GOTO_NUM_THREADS"}) pb.environment().remove(env);
        Process p = pb.start();
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "child JVM did not finish in 3 minutes");
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "child JVM failed:\n" + output);
        return output;
    }

    @Test
    void appliedByDefault(@TempDir Path dir) throws Exception {
        String out = child(dir);
        assertTrue(out.contains("threads=" + Runtime.getRuntime().availableProcessors()), out);
        assertTrue(out.contains("nnpack=false"), out);
        assertTrue(!out.contains("not applied"), out);
        assertTrue(out.contains("blas=1 OpenBLAS on 1 thread"), out);
    }

    @Test
    void leftAloneOnRequest(@TempDir Path dir) throws Exception {
        String out = child(dir, "-D" + TorchRuntime.SETTINGS_PROPERTY + "=false");
        assertTrue(out.contains("nnpack=true"), "NNPACK keeps libtorch's own setting:\n" + out);
        assertTrue(out.contains("guard=not applied (dreamteacher.torch.settings=false)"), out);
        assertTrue(out.contains("OpenBLAS threads as OpenBLAS chose them"), out);
    }
}
