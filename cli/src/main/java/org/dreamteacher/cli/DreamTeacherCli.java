package org.dreamteacher.cli;

import org.dreamteacher.kernels.ThreadChoice;
import java.io.PrintWriter;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.kernels.NativeLibrary;
import org.dreamteacher.torch.Threads;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code dreamteacher} command: train a diffusion teacher, sample from it, distill it into a backbone,
 * evaluate backbones with few labels, export a backbone's features as NumPy arrays, and a demo that runs the
 * pipeline in a few minutes on embedded data.
 *
 * <p>Global options ({@code --threads}, {@code --no-progress}, {@code --backend}, {@code --debug}) are
 * accepted before or after the subcommand. Errors end with one line on standard error and a non-zero exit
 * code: 2 for bad input on the command line, 1 for a failure while running; {@code --debug} adds the stack
 * trace. The handlers are installed by a model transformer, so {@code new CommandLine(new DreamTeacherCli())}
 * behaves exactly as {@link #main}.
 */
@Command(name = "dreamteacher", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class,
        modelTransformer = DreamTeacherCli.Setup.class, sortOptions = false, usageHelpAutoWidth = true,
        description = "DreamTeacher: pretrain image backbones by distilling a diffusion model's features.",
        subcommands = {DemoCommand.class, InfoCommand.class, TrainTeacherCommand.class, TrainGanCommand.class, GanQualityCommand.class, SampleCommand.class, EncodeCommand.class, DistillCommand.class,
            ProbeCommand.class, FinetuneCommand.class, SegmentCommand.class, EmbedCommand.class, ExportCommand.class, ReportCommand.class},
        footer = {"", "Start with: dreamteacher demo"})
public final class DreamTeacherCli implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N", scope = ScopeType.INHERIT,
            description = "CPU threads for libtorch and the loss kernels (default: OMP_NUM_THREADS if set, else every available "
                    + "processor; see info).")
    Integer threads;

    @Option(names = "--no-progress", scope = ScopeType.INHERIT, description = "Do not draw progress bars.")
    boolean noProgress;

    @Option(names = "--backend", paramLabel = "NAME", scope = ScopeType.INHERIT,
            description = "Loss-kernel backend: cpu, cuda, reference or auto (default: the dreamteacher.backend property, "
                    + "then DREAMTEACHER_BACKEND, else auto).")
    String backend;

    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Show stack traces of errors.")
    boolean debug;

    public static void main(String[] args) {
        System.exit(new CommandLine(new DreamTeacherCli()).execute(args));
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Applies the global options; called by every subcommand before it does its work. */
    void applyGlobals(boolean checkBackend) {
        Progress.setEnabled(!noProgress);
        if (threads != null && threads < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be >= 1, got " + threads);
        TorchRuntime.init();
        if (threads != null) {
            ThreadChoice choice = ThreadChoice.choose(Runtime.getRuntime().availableProcessors(), threads, System.getenv("OMP_NUM_THREADS"));
            Threads.applyToTorch(choice);
            if (NativeLibrary.loadError() == null) NativeLibrary.setNumThreads(choice.threads());
        }
        if (backend != null && checkBackend) kernels(); // fail early on an unknown or unavailable backend
    }

    /** The loss kernels chosen by {@code --backend}, or the configured default. */
    TensorLossKernels kernels() {
        if (backend == null) return TensorLossKernels.selected();
        String name = backend.trim().toLowerCase(java.util.Locale.ROOT);
        if (!Backends.all().containsKey(name) && !name.equals(Backends.AUTO))
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown --backend '" + backend + "' (cpu, cuda, reference or auto)");
        return TensorLossKernels.get(name);
    }

    boolean debug() {
        return debug;
    }

    /** Installs the one-line error handlers on the command line being built. */
    public static final class Setup implements CommandLine.IModelTransformer {
        @Override
        public CommandSpec transform(CommandSpec spec) {
            CommandLine cl = spec.commandLine();
            if (cl != null) {
                cl.setParameterExceptionHandler(Errors::handleParameterException);
                cl.setExecutionExceptionHandler(Errors::handleExecutionException);
            }
            return spec;
        }
    }

    /** Picocli error handlers: one line, no stack trace unless {@code --debug}. */
    static final class Errors {
        private Errors() {}

        static int handleParameterException(CommandLine.ParameterException ex, String[] args) {
            CommandLine cl = ex.getCommandLine();
            PrintWriter err = cl.getErr();
            if (isDebug(cl)) ex.printStackTrace(err);
            err.println(cl.getCommandSpec().qualifiedName() + ": " + oneLine(ex.getMessage())
                    + " (see '" + cl.getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return cl.getCommandSpec().exitCodeOnInvalidInput();
        }

        static int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
            PrintWriter err = cl.getErr();
            if (isDebug(cl)) ex.printStackTrace(err);
            err.println(cl.getCommandSpec().qualifiedName() + ": error: " + describe(ex));
            err.flush();
            return cl.getCommandSpec().exitCodeOnExecutionException();
        }

        private static boolean isDebug(CommandLine cl) {
            CommandLine c = cl;
            while (c.getParent() != null) c = c.getParent();
            return c.getCommand() instanceof DreamTeacherCli root && root.debug;
        }

        /** A one-line description of a failure, for users. */
        static String describe(Throwable ex) {
            Throwable e = ex;
            // Wrappers that add nothing for a user: report what they wrap.
            while ((e instanceof java.util.concurrent.ExecutionException || e instanceof java.io.UncheckedIOException
                    || e instanceof CommandLine.ExecutionException) && e.getCause() != null)
                e = e.getCause();
            String message = e.getMessage();
            if (e instanceof java.nio.file.NoSuchFileException n) return "no such file: " + n.getFile();
            if (e instanceof java.nio.file.AccessDeniedException a) return "permission denied: " + a.getFile();
            if (e instanceof java.nio.file.FileAlreadyExistsException a) return "already exists: " + a.getFile();
            if (e instanceof OutOfMemoryError) return "out of memory: give Java more heap (JAVA_OPTS=-Xmx...) or use smaller settings";
            if (message == null || message.isBlank()) return e.getClass().getSimpleName();
            if (e instanceof IllegalArgumentException || e instanceof IllegalStateException || e instanceof java.io.IOException
                    || e instanceof CliException || e instanceof org.dreamteacher.kernels.BackendUnavailableException)
                return oneLine(message);
            return e.getClass().getSimpleName() + ": " + oneLine(message);
        }

        static String oneLine(String message) {
            if (message == null) return "";
            String line = message.strip();
            int nl = line.indexOf('\n');
            if (nl >= 0) line = line.substring(0, nl).strip();
            return line;
        }
    }
}
