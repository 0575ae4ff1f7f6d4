package org.dreamteacher.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import org.dreamteacher.kernels.NativeLibrary;
import picocli.CommandLine;

/** Versions of the library, its native kernels, libtorch and Java, for {@code --version} and {@code info}. */
public final class VersionInfo implements CommandLine.IVersionProvider {
    private static final String RESOURCE = "/org/dreamteacher/version.properties";

    /** The library's version (from the build), or "unknown" when run from an unfiltered classpath. */
    public static String library() {
        try (InputStream in = VersionInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version", "").trim();
                if (!v.isEmpty() && !v.startsWith("${")) return v;
            }
        } catch (IOException e) {
            // fall through
        }
        String v = VersionInfo.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    /** dt_version() of the native library, or why it could not be loaded. */
    public static String nativeLibrary() {
        String error = NativeLibrary.loadError();
        return error != null ? "not loaded: " + error : NativeLibrary.version();
    }

    /** The PyTorch preset's version ("2.10.0-1.5.13": libtorch 2.10.0, JavaCPP 1.5.13), without loading libtorch. */
    public static String pytorchPreset() {
        String v = org.bytedeco.pytorch.Tensor.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    /** libtorch's own version, read from the preset's version. */
    public static String libtorch() {
        String preset = pytorchPreset();
        int dash = preset.indexOf('-');
        return dash > 0 ? preset.substring(0, dash) : preset;
    }

    public static String java() {
        return System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ", " + System.getProperty("java.vendor") + ")";
    }

    @Override
    public String[] getVersion() {
        return new String[] {"dreamteacher " + library(), "native kernels " + nativeLibrary(),
            "libtorch " + libtorch() + " (JavaCPP preset " + pytorchPreset() + ")", "Java " + java()};
    }
}
