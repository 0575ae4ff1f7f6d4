package org.dreamteacher.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * What every subcommand shares: the global options of its parent, its output streams (which tests replace
 * with {@code CommandLine.setOut}), and checks of option values that fail as usage errors (exit code 2).
 */
abstract class CliCommand implements Callable<Integer> {
    @ParentCommand
    DreamTeacherCli root;

    @Spec
    CommandSpec spec;

    @Override
    public final Integer call() throws Exception {
        root.applyGlobals(checksBackend());
        try {
            return execute();
        } catch (UnsatisfiedLinkError e) {
            throw new CliException("a native library could not be loaded (" + e + ")", e);
        } catch (LinkageError e) {
            // A class compiled against another version of this library or of a dependency: a mixed class path.
            throw new CliException("mismatched classes on the class path; rebuild (mvn package) (" + e + ")", e);
        } finally {
            out().flush();
        }
    }

    /** Whether an unavailable {@code --backend} is an error before the command starts ({@code info} reports it instead). */
    boolean checksBackend() {
        return true;
    }

    /** The command's work; returns the exit code. */
    abstract int execute() throws Exception;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    TensorLossKernels kernels() {
        return root.kernels();
    }

    /** A number as people write it: 4 significant digits, no trailing zeros (0.0002, 0.999, 10). */
    static String num(double x) {
        if (!Double.isFinite(x)) return Double.toString(x);
        if (x == Math.rint(x) && Math.abs(x) < 1e15) return Long.toString((long) x);
        return new java.math.BigDecimal(x).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
    }

    /** A usage error naming the option. */
    CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    void requirePositive(long value, String option) {
        if (value <= 0) throw usage(option + " must be > 0, got " + value);
    }

    void requireNonNegative(double value, String option) {
        if (!(value >= 0) || Double.isInfinite(value)) throw usage(option + " must be a finite number >= 0, got " + value);
    }

    void requirePositive(double value, String option) {
        if (!(value > 0) || Double.isInfinite(value)) throw usage(option + " must be a finite number > 0, got " + value);
    }

    /** A file given on the command line that must exist. */
    Path requireFile(Path file, String option) {
        if (!Files.exists(file)) throw usage(option + ": no such file: " + file);
        if (!Files.isRegularFile(file)) throw usage(option + ": not a file: " + file);
        if (!Files.isReadable(file)) throw usage(option + ": cannot read " + file);
        return file;
    }

    /** A folder given on the command line that must exist. */
    Path requireDirectory(Path dir, String option) {
        if (!Files.isDirectory(dir)) throw usage(option + ": no such folder: " + dir);
        return dir;
    }
}
