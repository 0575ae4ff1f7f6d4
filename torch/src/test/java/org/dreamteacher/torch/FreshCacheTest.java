package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A JVM whose JavaCPP cache is empty (as on every fresh machine) loads libtorch and runs a kernel without
 * crashing: libtorch's first load into an empty cache crashes unless {@link TorchRuntime#init()} extracts the
 * native libraries first.
 */
class FreshCacheTest {

    /** Entry point of the child JVM. */
    public static void main(String[] args) {
        TorchRuntime.init();
        Tensor s = torch.randn(4, 10);
        Tensor t = torch.randn(4, 10);
        float loss = TensorLossKernels.selected().softTargetCe(s, t, 2f).lossValue();
        System.out.println("fresh-cache-ok " + loss);
    }

    @Test
    void firstJvmWithEmptyCacheRuns(@TempDir Path cache) throws Exception {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path log = cache.resolveSibling(cache.getFileName() + ".log");
        Process p = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dorg.bytedeco.javacpp.cachedir=" + cache.toAbsolutePath(),
                "-cp", classPath, FreshCacheTest.class.getName()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "child JVM did not finish in 5 minutes");
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Files.deleteIfExists(log);
        assertEquals(0, p.exitValue(), "child JVM failed:\n" + output);
        assertTrue(output.contains("fresh-cache-ok"), output);
        assertTrue(new File(cache.toFile(), ".").list().length > 0, "the cache directory was not used");
    }
}
