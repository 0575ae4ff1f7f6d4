package org.dreamteacher.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.diffusion.TeacherTrainer;
import org.dreamteacher.kernels.NativeLibrary;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine;

/** Runs the command line in this JVM, as {@code new CommandLine(new DreamTeacherCli()).execute(args)}, capturing its output. */
record CliRun(int exitCode, String out, String err) {
    /** Every run: one CPU thread (the test machines are shared) and no progress bars. */
    static CliRun run(String... args) {
        List<String> all = new ArrayList<>(List.of("--threads", "1", "--no-progress"));
        all.addAll(List.of(args));
        CommandLine cl = new CommandLine(new DreamTeacherCli());
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        // --threads changes process-wide settings: put them back for the tests that run after this one.
        TorchRuntime.init();
        int torchThreads = torch.get_num_threads(), kernelThreads = NativeLibrary.numThreads();
        try {
            int code = cl.execute(all.toArray(new String[0]));
            return new CliRun(code, out.toString(), err.toString());
        } finally {
            torch.set_num_threads(torchThreads);
            NativeLibrary.setNumThreads(kernelThreads);
        }
    }

    CliRun expectSuccess() {
        assertEquals(0, exitCode, () -> "exit code " + exitCode + "\nstdout:\n" + out + "\nstderr:\n" + err);
        return this;
    }

    /** A failure reported as exactly one line on standard error, without a stack trace. */
    CliRun expectOneLineError(int code, String fragment) {
        assertEquals(code, exitCode, () -> "exit code " + exitCode + "\nstdout:\n" + out + "\nstderr:\n" + err);
        String e = err.strip();
        assertFalse(e.isEmpty(), "no error message");
        assertEquals(1, e.lines().count(), () -> "the error should be one line:\n" + err);
        assertFalse(e.contains("\tat ") || e.contains("Exception"), () -> "stack trace or exception name in:\n" + err);
        assertTrue(e.contains(fragment), () -> "'" + fragment + "' not in: " + e);
        return this;
    }

    /** Asserts that {@code png} exists and decodes as a non-empty picture. */
    static BufferedImage assertPng(Path png) throws IOException {
        assertTrue(Files.isRegularFile(png), () -> png + " is missing");
        byte[] head = Files.readAllBytes(png);
        assertTrue(head.length > 8 && (head[0] & 0xFF) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G', png + " is not a PNG");
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, png + " does not decode");
        assertTrue(img.getWidth() > 0 && img.getHeight() > 0);
        return img;
    }

    /**
     * A teacher of the smallest useful size (1x28x28, base 8, levels 28 and 14, taps at strides 2 and 1), trained
     * for two steps: enough to exercise every command that needs one.
     */
    static Path tinyTeacher(Path dir) throws IOException {
        UNetConfig u = new UNetConfig(1, 1, 28, 8, List.of(1, 2), 1, List.of(), 4, 0, false, 0.0, 0, 4, List.of(0, 2));
        TeacherTrainer.Settings s = TeacherTrainer.Settings.defaults().withSteps(2).withBatchSize(4).withLr(1e-3).withWarmupSteps(1)
                .withEmaDecay(0.9).withCheckpointEvery(100).withLogEvery(1);
        return new TeacherTrainer(DiffusionConfig.of(u), FashionMnist.embeddedSubset().train(), s).run(dir, false).teacherFile();
    }
}
