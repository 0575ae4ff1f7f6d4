package org.dreamteacher.cli;

import org.dreamteacher.diffusion.ShippedTeacher;
import org.dreamteacher.gan.ShippedGan;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.NativeLibrary;
import org.dreamteacher.torch.ConvolutionGuard;
import org.dreamteacher.torch.Threads;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Command;

/** Versions, threads, loss-kernel backends, the convolution guard's verdict and the data at hand. */
@Command(name = "info", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class,
        description = "Show versions, threads, backends and installed data.")
final class InfoCommand extends CliCommand {
    @Override
    boolean checksBackend() {
        return false;
    }

    @Override
    int execute() {
        TorchRuntime.init();
        PrintWriter out = out();
        row(out, "dreamteacher", VersionInfo.library());
        row(out, "native kernels", VersionInfo.nativeLibrary());
        row(out, "libtorch", VersionInfo.libtorch() + " (JavaCPP preset " + VersionInfo.pytorchPreset() + ", oneDNN "
                + torch.get_mkldnn_version().getString().replaceAll("^.*v", "") + ")");
        row(out, "Java", VersionInfo.java());
        String kernelThreads = NativeLibrary.loadError() == null ? Integer.toString(NativeLibrary.numThreads()) : "-";
        row(out, "threads", "libtorch " + torch.get_num_threads() + ", loss kernels " + kernelThreads + " ("
                + Threads.current().reason() + ")");
        row(out, "BLAS", Threads.blas());
        out.println("loss-kernel backends:");
        for (Map.Entry<String, LossKernels> e : Backends.all().entrySet()) {
            String why = e.getValue().unavailableReason();
            out.printf(Locale.ROOT, "  %-10s %s%n", e.getKey(), why == null ? "available" : "unavailable: " + why);
        }
        out.printf(Locale.ROOT, "  %-10s %s%n", "auto", "cuda for CUDA tensors, cpu otherwise");
        String selected = root.backend != null ? root.backend : Backends.selectedName();
        String problem = null;
        try {
            Backends.get(selected);
        } catch (RuntimeException e) {
            problem = DreamTeacherCli.Errors.oneLine(e.getMessage());
        }
        row(out, "selected backend", selected + (problem == null ? "" : " (" + problem + ")"));
        row(out, "convolutions", ConvolutionGuard.status());
        row(out, "Fashion-MNIST", FashionMnist.isInstalled(FashionMnist.DEFAULT_DIR)
                ? "full set installed in " + FashionMnist.DEFAULT_DIR + " (--data fashion-mnist)"
                : "full set not installed (apt-get install dataset-fashion-mnist puts it in " + FashionMnist.DEFAULT_DIR
                        + "); the embedded subset (6,000 train / 1,000 test) is used");
        row(out, "shipped teacher", ShippedTeacher.isPresent() ? "present (" + ShippedTeacher.RESOURCE + ")"
                : "not in this build (" + ShippedTeacher.RESOURCE + ")");
        row(out, "shipped GAN", ShippedGan.isPresent() ? "present (" + ShippedGan.RESOURCE + ", --gan " + ShippedGan.NAME + ")"
                : "not in this build (" + ShippedGan.RESOURCE + ")");
        return 0;
    }

    private static void row(PrintWriter out, String key, String value) {
        out.printf(Locale.ROOT, "%-17s %s%n", key + ":", value);
    }
}
